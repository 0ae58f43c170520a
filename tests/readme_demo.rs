//! The README's sandbox demo, run as written: the commands of its first
//! `sh` block after "use a copy that needs no approvals", with `/tmp/demo`
//! moved to a temporary directory and `cargo run --` to the built binary.
//! It must apply the example and then plan no changes, so the first thing
//! a newcomer copies works.

use std::path::Path;
use std::process::Command;

fn demo_commands(readme: &str) -> Vec<String> {
    let start = readme.find("use a copy that needs no approvals").expect("the README has the demo");
    let block = &readme[start..];
    let open = block.find("```sh\n").expect("the demo is a sh block") + "```sh\n".len();
    let close = open + block[open..].find("```").expect("the block ends");
    block[open..close].lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
}

#[test]
fn the_readme_demo_applies_the_example_and_then_plans_nothing() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repo.join("README.md")).expect("README.md");
    let commands = demo_commands(&readme);
    assert_eq!(commands.len(), 3, "the demo changed shape: {commands:?}");
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let demo = tmp.path().join("demo");
    let binary = env!("CARGO_BIN_EXE_tenantctl");
    let mut outputs = Vec::new();
    for line in &commands {
        // `# ...` comments say what a line does; bash drops them anyway.
        let script = line.replace("/tmp/demo", demo.to_str().expect("a UTF-8 path")).replace("cargo run --", binary);
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(repo)
            // What `cargo run` gets from .cargo/config.toml.
            .env("TENANTCTL_SANDBOX", "1")
            .output()
            .expect("bash runs");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "`{line}` failed:\n{text}");
        outputs.push(text);
    }
    // The count the README gives is the count applied.
    let said = commands[1].split("creates and updates ").nth(1).and_then(|t| t.split(' ').next()).expect("the README says how many objects");
    assert!(outputs[1].contains(&format!("Applied {said}, failed 0")), "the README says {said}:\n{}", outputs[1]);
    assert!(outputs[2].contains("no changes: the tenant matches desired state"), "{}", outputs[2]);
}
