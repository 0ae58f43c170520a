//! The CI templates in examples/ci, checked as files and run as scripts.
//!
//! The GitHub workflow's own `run:` steps (PR plan, merge apply, scheduled
//! drift) are taken from the parsed YAML and run with bash, as a runner
//! would (RUNNER_TEMP, GITHUB_PATH, GITHUB_ENV, GITHUB_OUTPUT,
//! GITHUB_STEP_SUMMARY), against the sandbox, with the built tenantctl
//! handed to the workflow's install step; approvers run the command the
//! plan comment tells them to. The Azure Pipelines file is parsed and
//! checked for the tasks and inputs it uses.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::{json, Value};
use yaml_rust2::{Yaml, YamlLoader};

fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(s.clone())),
        Yaml::Integer(i) => json!(i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Boolean(b) => b.to_string(),
                        Yaml::Integer(i) => i.to_string(),
                        other => panic!("unsupported key {other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Yaml::Null => Value::Null,
        other => panic!("unsupported YAML node {other:?}"),
    }
}

fn load_yaml(name: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("examples/ci").join(name)).unwrap();
    let docs = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"));
    assert_eq!(docs.len(), 1, "{name}: one document");
    to_json(&docs[0])
}

fn github() -> Value {
    load_yaml("github-actions.yml")
}

/// Every step of every job, with its job name.
fn steps(wf: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (job, def) in wf["jobs"].as_object().expect("jobs") {
        for s in def["steps"].as_array().expect("steps") {
            out.push((job.clone(), s.clone()));
        }
    }
    out
}

#[test]
fn github_workflow_uses_node24_actions_and_valid_contexts() {
    let wf = github();
    // The runner context does not exist at workflow level (actionlint).
    for (k, v) in wf["env"].as_object().unwrap() {
        let v = v.as_str().unwrap_or_default();
        assert!(
            !v.contains("runner."),
            "workflow env {k} uses the runner context: {v}"
        );
    }
    // Current majors, which run on node24.
    let node24: BTreeMap<&str, &str> = [
        ("actions/checkout", "v5"),
        ("actions/github-script", "v8"),
        ("actions/upload-artifact", "v6"),
        ("actions/download-artifact", "v7"),
        ("actions/cache", "v5"),
        ("dtolnay/rust-toolchain", "stable"),
    ]
    .into_iter()
    .collect();
    let mut used = 0;
    for (job, s) in steps(&wf) {
        if let Some(uses) = s["uses"].as_str() {
            let (action, version) = uses.split_once('@').unwrap();
            assert_eq!(
                node24.get(action),
                Some(&version),
                "{job}: {uses} is not a node24 major this test knows"
            );
            used += 1;
        }
        if let Some(run) = s["run"].as_str() {
            assert!(!run.contains("${{"), "{job}: expressions inside run: scripts are an injection risk and untestable:\n{run}");
            assert!(
                !run.contains("cargo run"),
                "{job}: compiles tenantctl in the job"
            );
        }
    }
    assert!(used > 10);
    // One build, shared by every other job.
    let jobs = wf["jobs"].as_object().unwrap();
    for (name, def) in jobs {
        if name != "build" {
            assert_eq!(def["needs"], "build", "{name} needs the build job");
        }
    }
    let cache = steps(&wf)
        .into_iter()
        .find(|(_, s)| s["uses"] == "actions/cache@v5")
        .expect("a cache step")
        .1;
    assert!(
        cache["with"]["key"]
            .as_str()
            .unwrap()
            .contains("TENANTCTL_VERSION"),
        "the cache is keyed by version"
    );
    // The comment is found again by its marker and updated.
    let comment = steps(&wf)
        .into_iter()
        .find(|(_, s)| s["name"] == "Post or update the plan comment")
        .unwrap()
        .1;
    let script = comment["with"]["script"].as_str().unwrap();
    assert!(
        script.contains("<!-- tenantctl-plan -->")
            && script.contains("updateComment")
            && script.contains("paginate")
    );
}

#[test]
fn azure_pipeline_parses_and_uses_known_tasks_with_their_inputs() {
    let p = load_yaml("azure-pipelines.yml");
    // Task -> inputs it requires (from each task's documented inputs).
    let known: BTreeMap<&str, &[&str]> = [
        (
            "AzureCLI@2",
            &[
                "azureSubscription",
                "scriptType",
                "scriptLocation",
                "inlineScript",
            ][..],
        ),
        ("Cache@2", &["key", "path"][..]),
        ("PublishPipelineArtifact@1", &["targetPath", "artifact"][..]),
        ("DownloadPipelineArtifact@2", &["artifact", "path"][..]),
        ("DownloadSecureFile@1", &["secureFile"][..]),
    ]
    .into_iter()
    .collect();
    let mut tasks = Vec::new();
    let mut scripts = Vec::new();
    fn walk(v: &Value, tasks: &mut Vec<Value>, scripts: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if m.contains_key("task") {
                    tasks.push(v.clone());
                }
                if let Some(Value::String(s)) = m.get("bash").or_else(|| m.get("inlineScript")) {
                    scripts.push(s.clone());
                }
                m.values().for_each(|x| walk(x, tasks, scripts));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, tasks, scripts)),
            _ => {}
        }
    }
    walk(&p, &mut tasks, &mut scripts);
    let mut seen = std::collections::BTreeSet::new();
    for t in &tasks {
        let name = t["task"].as_str().unwrap();
        let required = known
            .get(name)
            .unwrap_or_else(|| panic!("unknown task {name}"));
        for input in *required {
            assert!(
                t["inputs"].get(*input).is_some_and(|v| !v.is_null()),
                "{name} lacks input {input}"
            );
        }
        seen.insert(name.to_owned());
    }
    assert_eq!(
        seen.len(),
        known.len(),
        "every known task is used: {seen:?}"
    );
    let stages: Vec<&str> = p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["build", "plan", "apply", "drift"]);
    let all = scripts.join("\n");
    assert!(!all.contains("cargo run"), "no stage compiles tenantctl");
    // `$(Name.Like.This)` is macro syntax (command substitution has spaces
    // or arithmetic parentheses); scripts use environment variables.
    for (i, _) in all.match_indices("$(") {
        let inner: String = all[i + 2..].chars().take_while(|c| *c != ')').collect();
        let macro_like = !inner.is_empty()
            && inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
        assert!(
            !macro_like,
            "script uses the macro $({inner}); use its environment variable"
        );
    }
    assert!(
        all.contains("--max-bytes")
            && all.contains("<!-- tenantctl-plan -->")
            && all.contains("-X PATCH"),
        "one comment, updated"
    );
    assert!(all.contains("--approvals-dir approvals") && all.contains("--detached-out approvals/"));
    assert_eq!(p["variables"]["TENANTCTL_CREDENTIAL"], "azure-cli");
}

/// A fake runner: a repository checkout, RUNNER_TEMP and the GITHUB_* files.
struct Runner {
    workspace: PathBuf,
    temp: PathBuf,
    sandbox_url: String,
    tenant: (String, String, String),
    secrets: BTreeMap<String, String>,
    /// Variables the runner's environment adds (the storage key for Azurite).
    extra: Vec<(String, String)>,
}

struct StepResult {
    code: i32,
    stdout: String,
    stderr: String,
    outputs: BTreeMap<String, String>,
    summary: String,
}

impl Runner {
    /// The value of a `${{ }}` expression the workflow uses.
    fn expression(&self, expr: &str) -> String {
        match expr.trim() {
            "runner.temp" => self.temp.display().to_string(),
            "vars.AZURE_TENANT_ID" => self.tenant.0.clone(),
            "vars.AZURE_CLIENT_ID" => self.tenant.1.clone(),
            "vars.TENANTCTL_VERSION" => "0.1.0".into(),
            "vars.TENANTCTL_GIT" => "https://example.invalid/tenantctl".into(),
            "github.actor" => "ci-bot".into(),
            // The pull request's author: carol, the example's listed author.
            "github.event.pull_request.user.login" => "carol".into(),
            e if e.starts_with("secrets.") => self
                .secrets
                .get(&e["secrets.".len()..])
                .cloned()
                .unwrap_or_default(),
            other => panic!("the test does not know the expression {other}"),
        }
    }

    fn resolve(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("closed expression") + start;
            out.push_str(&self.expression(&rest[start + 3..end]));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn file(&self, name: &str) -> PathBuf {
        self.temp.join(name)
    }

    /// Runs the `run:` script of step `id` of `job` as the runner does
    /// (`bash --noprofile --norc -eo pipefail`), with workflow, job and
    /// step env, earlier GITHUB_ENV / GITHUB_PATH additions, and the
    /// sandbox as the tenant.
    fn run(&self, wf: &Value, job: &str, id: &str) -> StepResult {
        let step = wf["jobs"][job]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("{job} has no step {id}"));
        let script = step["run"]
            .as_str()
            .unwrap_or_else(|| panic!("{job}.{id} has no run script"));
        let script_file = self.file(&format!("{job}-{id}.sh"));
        std::fs::write(&script_file, script).unwrap();
        for f in ["output", "summary"] {
            std::fs::write(self.file(f), "").unwrap();
        }
        let mut c = Command::new("bash");
        c.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script_file)
            .current_dir(&self.workspace)
            .env_clear();
        let path_added = std::fs::read_to_string(self.file("path")).unwrap_or_default();
        let mut path: Vec<String> = path_added.lines().rev().map(str::to_owned).collect();
        path.push(std::env::var("PATH").unwrap_or_default());
        c.env("PATH", path.join(":"))
            .env("HOME", &self.temp)
            .env("RUNNER_TEMP", &self.temp)
            .env("GITHUB_PATH", self.file("path"))
            .env("GITHUB_ENV", self.file("env"))
            .env("GITHUB_OUTPUT", self.file("output"))
            .env("GITHUB_STEP_SUMMARY", self.file("summary"))
            .env("GITHUB_RUN_ID", "4242")
            .env("NO_COLOR", "1")
            // The tenant: the sandbox, with its client secret (the workflow's
            // federated token step is JavaScript and is not run here).
            .env("TENANTCTL_GRAPH_URL", &self.sandbox_url)
            .env("AZURE_CLIENT_SECRET", &self.tenant.2)
            // Where a real tenant's ledger lives (and the workflow uploads
            // it from); a --graph-url ledger would go under .tenantctl/.
            .env(
                "TENANTCTL_LEDGER",
                self.workspace.join("desired-state/tenantctl.lock"),
            );
        for (k, v) in &self.extra {
            c.env(k, v);
        }
        for scope in [&wf["env"], &wf["jobs"][job]["env"], &step["env"]] {
            if let Some(m) = scope.as_object() {
                for (k, v) in m {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    c.env(k, self.resolve(&v));
                }
            }
        }
        for line in std::fs::read_to_string(self.file("env"))
            .unwrap_or_default()
            .lines()
        {
            if let Some((k, v)) = line.split_once('=') {
                c.env(k, v);
            }
        }
        let out = c.output().unwrap();
        let outputs = std::fs::read_to_string(self.file("output"))
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
            .collect();
        StepResult {
            code: out.status.code().unwrap_or(-1),
            stdout: text(&out.stdout),
            stderr: text(&out.stderr),
            outputs,
            summary: std::fs::read_to_string(self.file("summary")).unwrap(),
        }
    }

    /// A new job: a fresh RUNNER_TEMP (GITHUB_PATH and GITHUB_ENV are per
    /// job) holding the artifact the build job uploaded.
    fn new_job(&mut self, binary: &Path) {
        let _ = std::fs::remove_dir_all(&self.temp);
        std::fs::create_dir_all(self.temp.join("bin")).unwrap();
        std::fs::copy(binary, self.temp.join("bin/tenantctl")).unwrap();
    }
}

fn ok(r: &StepResult, what: &str) {
    assert_eq!(
        r.code, 0,
        "{what} failed:\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
}

fn keygen(dir: &Path, name: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tenantctl"))
        .current_dir(dir)
        .args(["keygen", "--out", name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_workflow_steps_plan_approve_apply_and_report_drift_against_the_sandbox() {
    let sb = sandbox().await;
    let wf = github();
    let keys = tempfile::tempdir().unwrap();
    let k = keys.path();
    let author = keygen(k, "author");
    let alice = keygen(k, "alice");
    let bob = keygen(k, "bob");
    // The repository: desired state whose approvers are alice and bob.
    let repo_dir = scratch_with(|t| {
        t.replace(
            "ed25519:mZxMQNprHMdBF3fo3jVULcLTk9KlgAJ9uyVAW8WX5V8=",
            &alice,
        )
        .replace("ed25519:CDpmHBgPXntq+9WOXGBCkH5u3mQCJjLveR2EV9yC7yg=", &bob)
        // The plan's author is listed (in place of the example's carol).
        .replace("ed25519:Byh8k9fRF1GPU9WN+P9IzHlPKizitujL2J5ExbScN0Q=", &author)
    });
    let runner_dir = tempfile::tempdir().unwrap();
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_tenantctl"));
    let mut r = Runner {
        workspace: repo_dir.path().to_path_buf(),
        temp: runner_dir.path().join("temp"),
        sandbox_url: sb.base_url(),
        tenant: (
            sb.tenant_id().to_owned(),
            sb.client_id().to_owned(),
            sb.client_secret().to_owned(),
        ),
        secrets: [(
            "TENANTCTL_AUTHOR_KEY".to_owned(),
            std::fs::read_to_string(k.join("author.key")).unwrap(),
        )]
        .into_iter()
        .collect(),
        // What the apply job's JavaScript step exports: the merged pull
        // request's author.
        extra: vec![("PR_AUTHOR".into(), "carol".into())],
    };

    // --- Pull request: plan, comment, artifact.
    r.new_job(&binary);
    ok(&r.run(&wf, "plan", "install"), "install");
    ok(&r.run(&wf, "plan", "author-key"), "author key");
    let plan = r.run(&wf, "plan", "plan");
    ok(&plan, "PR plan");
    assert_eq!(
        plan.outputs.get("code").map(String::as_str),
        Some("2"),
        "changes planned"
    );
    let comment = std::fs::read_to_string(repo_dir.path().join("comment.md")).unwrap();
    assert!(
        comment.starts_with("<!-- tenantctl-plan -->\n## tenantctl plan"),
        "{comment}"
    );
    assert!(comment.len() <= 65_536 && comment.contains("role_assignment.megan-user-admin"));
    let saved: engine::Plan =
        serde_json::from_str(&std::fs::read_to_string(repo_dir.path().join("plan.json")).unwrap())
            .unwrap();
    assert!(
        saved.author.is_some() && !saved.sensitive.is_empty(),
        "an authored plan with sensitive changes"
    );
    let author_key_file = r.file("author.key");
    assert!(author_key_file.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&author_key_file)
                .unwrap()
                .permissions()
                .mode()
                & 0o077,
            0,
            "the author key is private"
        );
    }
    // The artifact approvers download.
    let artifact = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo_dir.path().join("plan.json"),
        artifact.path().join("plan.json"),
    )
    .unwrap();

    // --- Merge before approval: the apply job stops and says what to approve.
    r.new_job(&binary);
    ok(&r.run(&wf, "apply", "install"), "install");
    ok(&r.run(&wf, "apply", "author-key"), "author key");
    let refused = r.run(&wf, "apply", "apply");
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    assert!(
        refused.summary.contains("tenantctl did not apply")
            && refused.summary.contains("needs 2 approval(s)"),
        "{}",
        refused.summary
    );
    assert!(
        refused.summary.contains("guest.fabrikam-auditor"),
        "{}",
        refused.summary
    );

    // --- Approvers: the command the comment gives, in their own checkout.
    let command = comment
        .lines()
        .find(|l| l.starts_with("`tenantctl approve"))
        .expect("the comment says how to approve");
    let command = command.trim_matches('`');
    for who in ["alice", "bob"] {
        let line = command
            .replace(
                "plan.json",
                &artifact.path().join("plan.json").display().to_string(),
            )
            .replace(
                "YOU.key",
                &k.join(format!("{who}.key")).display().to_string(),
            )
            .replace("YOU", who);
        let out = Command::new("bash")
            .args([
                "-c",
                &format!("PATH={}:$PATH; {line}", binary.parent().unwrap().display()),
            ])
            .current_dir(repo_dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{line}\n{}", text(&out.stderr));
        assert!(
            repo_dir
                .path()
                .join(format!("approvals/{who}.sig.json"))
                .exists(),
            "{who} commits approvals/{who}.sig.json"
        );
    }

    // --- Merge: the apply job applies the approved plan.
    r.new_job(&binary);
    ok(&r.run(&wf, "apply", "install"), "install");
    ok(&r.run(&wf, "apply", "author-key"), "author key");
    let applied = r.run(&wf, "apply", "apply");
    ok(&applied, "merge apply");
    assert_eq!(
        applied.outputs.get("applied").map(String::as_str),
        Some("true")
    );
    assert!(
        applied.stderr.contains("approved by alice"),
        "{}",
        applied.stderr
    );

    // --- Schedule: drift finds the tenant in sync...
    r.new_job(&binary);
    ok(&r.run(&wf, "drift", "install"), "install");
    let drift = r.run(&wf, "drift", "drift");
    ok(&drift, "drift");
    assert_eq!(
        drift.outputs.get("code").map(String::as_str),
        Some("0"),
        "in sync after apply: {}",
        drift.stderr
    );
    assert!(
        repo_dir.path().join("drift.html").exists() && repo_dir.path().join("drift.json").exists()
    );

    // ... and reports a change made outside tenantctl.
    let http = reqwest::Client::new();
    let token = sb.access_token();
    let groups: Value = http
        .get(format!("{}/v1.0/groups", sb.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = groups["value"][0]["id"]
        .as_str()
        .expect("a group was created")
        .to_owned();
    let patched = http
        .patch(format!("{}/v1.0/groups/{id}", sb.base_url()))
        .bearer_auth(&token)
        .json(&json!({"description": "changed in the portal"}))
        .send()
        .await
        .unwrap();
    assert!(patched.status().is_success(), "{}", patched.status());
    let drift = r.run(&wf, "drift", "drift");
    ok(&drift, "drift");
    assert_eq!(
        drift.outputs.get("code").map(String::as_str),
        Some("2"),
        "drift found: {}",
        drift.stderr
    );
    sb.shutdown().await.unwrap();
}

/// The inline script of the `AzureCLI@2` task (or the `bash` step) named
/// `display` in the pipeline.
fn azure_script(p: &Value, display: &str) -> String {
    fn find(v: &Value, display: &str) -> Option<String> {
        match v {
            Value::Object(m) => {
                if m.get("task").and_then(Value::as_str) == Some("AzureCLI@2")
                    && m.get("displayName").and_then(Value::as_str) == Some(display)
                {
                    return m["inputs"]["inlineScript"].as_str().map(str::to_owned);
                }
                if m.get("displayName").and_then(Value::as_str) == Some(display) {
                    if let Some(s) = m.get("bash").and_then(Value::as_str) {
                        return Some(s.to_owned());
                    }
                }
                m.values().find_map(|x| find(x, display))
            }
            Value::Array(a) => a.iter().find_map(|x| find(x, display)),
            _ => None,
        }
    }
    find(p, display).unwrap_or_else(|| panic!("no AzureCLI@2 task {display}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_pipeline_scripts_plan_and_apply_with_the_azure_cli_credential() {
    use std::os::unix::fs::PermissionsExt;
    let sb = sandbox().await;
    let p = load_yaml("azure-pipelines.yml");
    let keys = tempfile::tempdir().unwrap();
    let k = keys.path();
    let author = keygen(k, "author");
    let alice = keygen(k, "alice");
    let bob = keygen(k, "bob");
    let repo_dir = scratch_with(|t| {
        t.replace(
            "ed25519:mZxMQNprHMdBF3fo3jVULcLTk9KlgAJ9uyVAW8WX5V8=",
            &alice,
        )
        .replace("ed25519:CDpmHBgPXntq+9WOXGBCkH5u3mQCJjLveR2EV9yC7yg=", &bob)
        // The plan's author is listed (in place of the example's carol),
        // under her Azure DevOps unique name.
        .replace("ed25519:Byh8k9fRF1GPU9WN+P9IzHlPKizitujL2J5ExbScN0Q=", &author)
        .replace("[governance.authors.carol]", "[governance.authors.\"carol@contoso.com\"]")
    });
    let w = repo_dir.path();
    // AzureCLI@2 leaves `az` signed in; here a stub hands out sandbox tokens.
    let agent = tempfile::tempdir().unwrap();
    let stub = agent.path().join("stub-bin");
    std::fs::create_dir_all(&stub).unwrap();
    let az = stub.join("az");
    let expires = chrono::Utc::now().timestamp() + 3600;
    std::fs::write(&az, format!("#!/bin/sh\necho \"$*\" >> '{}/az.log'\nprintf '%s\\n' '{{\"accessToken\": \"{}\", \"expires_on\": {expires}}}'\n", agent.path().display(), sb.access_token())).unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Azure DevOps' REST API: the pull request (its creator) and the Pull
    // Request Query by merge commit, answered by a stub `curl` that logs
    // what it was asked.
    let curl = stub.join("curl");
    let pr = r#"{"pullRequestId":7,"status":"active","createdBy":{"displayName":"Carol Cloud","uniqueName":"carol@contoso.com"}}"#;
    std::fs::write(
        &curl,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{log}/curl.log'\ncase \"$*\" in\n  *pullrequestquery*) cat > '{log}/query.json'; printf '{{\"results\":[{{\"%s\":[%s]}}]}}\\n' \"$BUILD_SOURCEVERSION\" '{pr}' ;;\n  *) printf '%s\\n' '{pr}' ;;\nesac\n",
            log = agent.path().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&curl, std::fs::Permissions::from_mode(0o755)).unwrap();
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_tenantctl"));
    // Variables steps set (`##vso[task.setvariable variable=NAME]VALUE`).
    let set_vars = std::cell::RefCell::new(BTreeMap::<String, String>::new());
    let run = |display: &str| {
        let script = agent.path().join("script.sh");
        std::fs::write(&script, azure_script(&p, display)).unwrap();
        let mut c = Command::new("bash");
        c.arg(&script).current_dir(w).env_clear();
        for (name, value) in p["variables"].as_object().unwrap() {
            if let Some(v) = value.as_str().filter(|v| !v.contains("$(")) {
                c.env(name, v);
            }
        }
        for (name, value) in set_vars.borrow().iter() {
            c.env(name, value);
        }
        let out = c
            .env(
                "PATH",
                format!(
                    "{}:{}:{}",
                    stub.display(),
                    binary.parent().unwrap().display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("HOME", agent.path())
            .env("AGENT_TEMPDIRECTORY", agent.path())
            .env("BUILD_BUILDID", "77")
            .env("AUTHOR_KEY_FILE", k.join("author.key"))
            .env("TENANTCTL_GRAPH_URL", sb.base_url())
            .env("TENANTCTL_LEDGER", w.join("desired-state/tenantctl.lock"))
            .env("NO_COLOR", "1")
            .env("SYSTEM_COLLECTIONURI", "https://dev.azure.com/contoso/")
            .env("SYSTEM_TEAMPROJECT", "tenant")
            .env("BUILD_REPOSITORY_ID", "repo-1")
            .env("SYSTEM_PULLREQUEST_PULLREQUESTID", "7")
            .env("BUILD_SOURCEVERSION", "4f1c0ffee")
            .env("SYSTEM_ACCESSTOKEN", "job-token")
            .output()
            .unwrap();
        let stdout = text(&out.stdout);
        for line in stdout.lines() {
            if let Some((name, value)) = line.strip_prefix("##vso[task.setvariable variable=").and_then(|l| l.split_once(']')) {
                set_vars.borrow_mut().insert(name.to_owned(), value.to_owned());
            }
        }
        (out.status.code(), stdout, text(&out.stderr))
    };

    // The pull request's author, read from the pull request.
    let (code, _, err) = run("The pull request's author");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(set_vars.borrow().get("PR_AUTHOR").map(String::as_str), Some("carol@contoso.com"));
    let curl_log = std::fs::read_to_string(agent.path().join("curl.log")).unwrap();
    assert!(
        curl_log.contains("https://dev.azure.com/contoso/tenant/_apis/git/repositories/repo-1/pullRequests/7?api-version=7.1")
            && curl_log.contains("Authorization: Bearer job-token"),
        "{curl_log}"
    );
    let (code, _, err) = run("Plan");
    assert_eq!(code, Some(0), "{err}");
    let saved: engine::Plan = serde_json::from_str(&std::fs::read_to_string(w.join("plan.json")).unwrap()).unwrap();
    assert_eq!(saved.written_by.as_deref(), Some("carol@contoso.com"), "the plan names the pull request's author");
    let comment = std::fs::read_to_string(w.join("comment.md")).unwrap();
    assert!(
        comment.starts_with("<!-- tenantctl-plan -->\n## tenantctl plan")
            && comment.contains("build 77"),
        "{comment}"
    );
    assert!(
        w.join("tenantctl-plan/plan.json").exists() && w.join("tenantctl-plan/plan.md").exists()
    );
    let az_log = std::fs::read_to_string(agent.path().join("az.log")).unwrap();
    assert!(
        az_log.starts_with("account get-access-token --resource "),
        "tenantctl used the Azure CLI session: {az_log}"
    );

    // The author may not approve the change they wrote.
    let carol = Command::new(&binary)
        .current_dir(w)
        .args(["approve", "tenantctl-plan/plan.json", "--key"])
        .arg(k.join("author.key"))
        .args(["--dir", "desired-state", "--detached-out", "approvals/carol.sig.json"])
        .output()
        .unwrap();
    assert!(!carol.status.success() && !w.join("approvals/carol.sig.json").exists(), "{}", text(&carol.stderr));

    // Merge before approval: refused, with a summary uploaded for the run.
    set_vars.borrow_mut().clear();
    let (code, _, err) = run("The merged pull request's author");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(set_vars.borrow().get("PR_AUTHOR").map(String::as_str), Some("carol@contoso.com"));
    let query: Value = serde_json::from_str(&std::fs::read_to_string(agent.path().join("query.json")).unwrap()).unwrap();
    assert_eq!(query, json!({"queries": [{"type": "lastMergeCommit", "items": ["4f1c0ffee"]}]}), "the pull request merged as this commit");
    let (code, _, err) = run("Apply the approved plan");
    assert_ne!(code, Some(0), "{err}");
    let summary = std::fs::read_to_string(agent.path().join("tenantctl-summary.md")).unwrap();
    assert!(
        summary.contains("tenantctl did not apply") && summary.contains("needs 2 approval(s)"),
        "{summary}"
    );

    // Two approvers sign the PR's plan artifact; the merge applies.
    for who in ["alice", "bob"] {
        let out = Command::new(&binary)
            .current_dir(w)
            .args(["approve", "tenantctl-plan/plan.json", "--key"])
            .arg(k.join(format!("{who}.key")))
            .args([
                "--dir",
                "desired-state",
                "--detached-out",
                &format!("approvals/{who}.sig.json"),
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let (code, _, err) = run("Apply the approved plan");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("approved by alice"), "{err}");
    let merged: engine::Plan = serde_json::from_str(&std::fs::read_to_string(w.join("tenantctl-plan/plan.json")).unwrap()).unwrap();
    assert_eq!(merged.written_by.as_deref(), Some("carol@contoso.com"), "the merge's plan names the same author");
    let journal = std::fs::read_to_string(w.join("desired-state/tenantctl.journal.jsonl")).unwrap_or_default();
    assert!(journal.contains("carol@contoso.com"), "the journal records the author: {journal}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_max_bytes_bounds_the_markdown_and_is_for_markdown_only() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let d = work.path().join("desired-state");
    let d = d.to_str().unwrap();
    let out = cli(
        &sb,
        work.path(),
        &["plan", d, "--format", "json", "--max-bytes", "100"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--max-bytes applies to --format markdown only"),
        "{}",
        text(&out.stderr)
    );
    let full = cli(&sb, work.path(), &["plan", d, "--format", "markdown"]);
    assert!(full.status.success(), "{}", text(&full.stderr));
    let limit = full.stdout.len() / 2;
    let out = cli(
        &sb,
        work.path(),
        &[
            "plan",
            d,
            "--format",
            "markdown",
            "--max-bytes",
            &limit.to_string(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        out.stdout.len() <= limit && out.stdout.len() > limit / 2,
        "{} of {limit} bytes",
        out.stdout.len()
    );
    assert!(text(&out.stdout).contains(&format!("Shortened to fit {limit} bytes")));
    sb.shutdown().await.unwrap();
}

/// A fresh checkout of the repository's committed files (desired state and
/// approvals): every CI job starts from one, with no state of earlier jobs.
fn checkout(repo: &Path) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    for sub in ["desired-state", "approvals"] {
        let (from, to) = (repo.join(sub), t.path().join(sub));
        if !from.is_dir() {
            continue;
        }
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(&from).unwrap() {
            let p = e.unwrap().path();
            let keep = p.extension().is_some_and(|x| x == "toml" || x == "ps1") || p.to_string_lossy().ends_with(".sig.json");
            if keep {
                std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    t
}

/// The README's "CI and production" flow with state in Blob Storage: each
/// job of the GitHub workflow runs in a fresh checkout (the ledger, trust
/// root and lock live only in the `[state]` account, here Azurite), from
/// the first PR plan through approvals and the merge apply to scheduled
/// drift, and `tenantctl state show` in yet another checkout sees it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_workflow_with_state_in_blob_storage_runs_every_job_from_a_fresh_checkout() {
    let az = common::azurite::start();
    let c = common::azurite::container();
    let sb = sandbox().await;
    let wf = github();
    let keys = tempfile::tempdir().unwrap();
    let k = keys.path();
    let (author, alice, bob) = (keygen(k, "author"), keygen(k, "alice"), keygen(k, "bob"));
    // The repository: the example, its approvers alice and bob, and [state].
    let repo = scratch_with(|t| {
        t.replace("ed25519:mZxMQNprHMdBF3fo3jVULcLTk9KlgAJ9uyVAW8WX5V8=", &alice)
            .replace("ed25519:CDpmHBgPXntq+9WOXGBCkH5u3mQCJjLveR2EV9yC7yg=", &bob)
            .replace("ed25519:Byh8k9fRF1GPU9WN+P9IzHlPKizitujL2J5ExbScN0Q=", &author)
    });
    std::fs::write(repo.path().join("desired-state/state.toml"), common::azurite::state_table(&az, &c, "prod")).unwrap();
    let runner_dir = tempfile::tempdir().unwrap();
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_tenantctl"));
    let mut r = Runner {
        workspace: PathBuf::new(),
        temp: runner_dir.path().join("temp"),
        sandbox_url: sb.base_url(),
        tenant: (sb.tenant_id().to_owned(), sb.client_id().to_owned(), sb.client_secret().to_owned()),
        secrets: [("TENANTCTL_AUTHOR_KEY".to_owned(), std::fs::read_to_string(k.join("author.key")).unwrap())].into_iter().collect(),
        extra: vec![("AZURE_STORAGE_KEY".into(), common::azurite::DEV_KEY.into()), ("PR_AUTHOR".into(), "carol".into())],
    };
    let store = common::azurite::store(&az, &c);
    let job = |r: &mut Runner, name: &str| -> tempfile::TempDir {
        let co = checkout(repo.path());
        r.workspace = co.path().to_path_buf();
        r.new_job(&binary);
        ok(&r.run(&wf, name, "install"), "install");
        co
    };

    // --- Pull request: plan from an empty state account.
    let co = job(&mut r, "plan");
    ok(&r.run(&wf, "plan", "author-key"), "author key");
    let plan = r.run(&wf, "plan", "plan");
    ok(&plan, "PR plan");
    assert_eq!(plan.outputs.get("code").map(String::as_str), Some("2"), "changes planned: {}", plan.stderr);
    let artifact = tempfile::tempdir().unwrap();
    std::fs::copy(co.path().join("plan.json"), artifact.path().join("plan.json")).unwrap();
    drop(co);

    // --- Approvers, each in a checkout of their own; their files are committed.
    for who in ["alice", "bob"] {
        let mine = checkout(repo.path());
        let out = Command::new(&binary)
            .current_dir(mine.path())
            .args(["approve", artifact.path().join("plan.json").to_str().unwrap(), "--key", k.join(format!("{who}.key")).to_str().unwrap(), "--dir", "desired-state", "--detached-out", &format!("approvals/{who}.sig.json")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        std::fs::create_dir_all(repo.path().join("approvals")).unwrap();
        std::fs::copy(mine.path().join(format!("approvals/{who}.sig.json")), repo.path().join(format!("approvals/{who}.sig.json"))).unwrap();
    }

    // --- Merge: a fresh checkout applies the approved plan; the ledger and
    // the trust root land in the account, not in the checkout.
    let co = job(&mut r, "apply");
    ok(&r.run(&wf, "apply", "author-key"), "author key");
    let applied = r.run(&wf, "apply", "apply");
    ok(&applied, "merge apply");
    assert_eq!(applied.outputs.get("applied").map(String::as_str), Some("true"), "{}", applied.stderr);
    drop(co);
    // Keyed by [tenant] (the ledger is DIR/tenantctl.lock, as for a real tenant).
    let tenant = common::example().tenant.unwrap().value;
    let key = tenant.tenant_id.unwrap_or(tenant.primary_domain);
    for n in ["ledger.toml", "trust.json"] {
        assert!(store.get(&format!("prod/{key}/{n}")).await.unwrap().is_some(), "{n} is in the state account");
    }

    // --- Schedule: drift from a fresh checkout reads the ledger from the
    // account and finds the tenant in sync.
    let co = job(&mut r, "drift");
    let drift = r.run(&wf, "drift", "drift");
    ok(&drift, "drift");
    assert_eq!(drift.outputs.get("code").map(String::as_str), Some("0"), "in sync after apply: {}", drift.stderr);
    drop(co);

    // --- Anyone, in another checkout: state show, and a plan with no
    // changes and no first-use warning (the trust root came from the account).
    let co = checkout(repo.path());
    let tctl = |args: &[&str]| {
        Command::new(&binary)
            .current_dir(co.path())
            .env("TENANTCTL_GRAPH_URL", sb.base_url())
            .env("AZURE_TENANT_ID", sb.tenant_id())
            .env("AZURE_CLIENT_ID", sb.client_id())
            .env("AZURE_CLIENT_SECRET", sb.client_secret())
            .env("TENANTCTL_LEDGER", co.path().join("desired-state/tenantctl.lock"))
            .env("AZURE_STORAGE_KEY", common::azurite::DEV_KEY)
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .unwrap()
    };
    let shown = tctl(&["state", "show", "desired-state"]);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    let shown = text(&shown.stdout);
    assert!(shown.contains("backend: azurerm") && shown.contains("lock:    free") && !shown.contains("ledger:  none"), "{shown}");
    assert!(shown.contains("trust:   kept"), "the trust root is in the account: {shown}");
    let again = tctl(&["plan", "desired-state", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}{}", text(&again.stdout), text(&again.stderr));
    assert!(!text(&again.stderr).contains("first use"), "{}", text(&again.stderr));
    sb.shutdown().await.unwrap();
}

/// Every `tenantctl` command in the README's "CI and production" section
/// (its `sh` blocks) is run somewhere: the same subcommand with the same
/// flags on one line of the GitHub workflow (whose steps the tests above
/// run) or of a test that runs the binary.
#[test]
fn every_tenantctl_command_of_the_readme_ci_section_is_run_by_a_test() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme.find("## CI and production").expect("the section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map(|e| e + 3).unwrap_or(section.len())];
    let mut commands = Vec::new();
    let mut in_sh = false;
    let mut current = String::new();
    for line in section.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let l = line.split(" #").next().unwrap_or("").trim();
        if current.is_empty() && !l.starts_with("tenantctl ") {
            continue;
        }
        current.push_str(l.trim_end_matches('\\'));
        current.push(' ');
        if !l.ends_with('\\') {
            commands.push(std::mem::take(&mut current));
        }
    }
    assert!(commands.len() >= 6, "{commands:?}");
    let sources: Vec<String> = ["examples/ci/github-actions.yml", "tests/ci_templates.rs", "tests/state_backend_e2e.rs", "tests/export_e2e.rs", "tests/approvals_e2e.rs"]
        .iter()
        // A shell line continued with `\` is one line.
        .map(|f| std::fs::read_to_string(repo().join(f)).unwrap().replace("\\\n", " "))
        .collect();
    for cmd in &commands {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        // The subcommand words, then every flag.
        let sub: Vec<&str> = words[1..].iter().take_while(|w| w.chars().all(|c| c.is_ascii_lowercase())).copied().collect();
        let tokens: Vec<&str> = sub.iter().copied().chain(words.iter().copied().filter(|w| w.starts_with("--"))).collect();
        let found = sources.iter().flat_map(|s| s.lines()).any(|line| {
            let has = |t: &str| line.contains(&format!("\"{t}\"")) || line.contains(&format!(" {t} ")) || line.ends_with(&format!(" {t}")) || line.contains(&format!("tenantctl {t}"));
            tokens.iter().all(|t| has(t))
        });
        assert!(found, "the README's `{}` is not run by any test (tokens {tokens:?})", cmd.trim());
    }
}
