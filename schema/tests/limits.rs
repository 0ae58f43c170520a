//! Every string Graph limits is length-checked at validate time, located,
//! and never repeated in full in the output.

use schema::{load_str, LoadError};

const TENANT: &str = "[tenant]\nprimary_domain = \"contoso.onmicrosoft.com\"\n";

/// One resource of each kind with `{}` where the field under test goes.
fn resource(kind: &str, field: &str, value: &str) -> String {
    let v = format!("{field} = \"{value}\"\n");
    let base = match kind {
        "user" => "[user.a]\nuser_principal_name = \"a@contoso.onmicrosoft.com\"\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n",
        "guest" => "[guest.a]\nemail = \"a@example.com\"\ndisplay_name = \"A\"\nexpires = \"2026-12-01T00:00:00Z\"\n",
        "group" => "[group.a]\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n",
        "device_configuration" => "[device_configuration.a]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"A\"\n",
        "compliance_policy" => "[compliance_policy.a]\nodata_type = \"windows10CompliancePolicy\"\ndisplay_name = \"A\"\n",
        "update_ring" => "[update_ring.a]\ndisplay_name = \"A\"\n",
        "autopilot_profile" => "[autopilot_profile.a]\ndisplay_name = \"A\"\n",
        "conditional_access" => "[conditional_access.a]\ndisplay_name = \"A\"\nstate = \"disabled\"\nusers = { include_users = [\"All\"] }\ngrant = { built_in_controls = [\"mfa\"] }\n",
        other => panic!("no fixture for {other}"),
    };
    // Replace the field if the fixture has it, else add it.
    let mut out = String::new();
    let mut replaced = false;
    for line in base.lines() {
        if line.starts_with(&format!("{field} =")) {
            out.push_str(&v);
            replaced = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !replaced {
        out.push_str(&v);
    }
    out
}

fn errors_of(text: &str) -> Vec<(String, String)> {
    match load_str(&[("tenant.toml", TENANT), ("r.toml", text)]) {
        Ok(_) => Vec::new(),
        Err(LoadError::Invalid(d)) => d
            .errors()
            .map(|e| {
                let l = e.location.as_ref().unwrap();
                (
                    e.code.to_string(),
                    format!("{}:{}:{} {}", l.file.display(), l.line, l.column, e.message),
                )
            })
            .collect(),
        Err(e) => panic!("{e}"),
    }
}

/// Builds a value of n characters.
type Value = Box<dyn Fn(usize) -> String>;

#[test]
fn each_limited_string_is_refused_one_past_its_limit_and_accepted_at_it() {
    // (kind, field, limit, what a value of n characters looks like)
    let x = |n: usize| "x".repeat(n);
    let upn = |n: usize| format!("{}@{}", "a".repeat(64), "b".repeat(n - 65 - 4) + ".com");
    let cases: Vec<(&str, &str, usize, Value)> = vec![
        ("user", "display_name", 256, Box::new(x)),
        ("user", "given_name", 64, Box::new(x)),
        ("user", "surname", 64, Box::new(x)),
        ("user", "job_title", 128, Box::new(x)),
        ("user", "department", 64, Box::new(x)),
        ("user", "user_principal_name", 113, Box::new(upn)),
        ("guest", "display_name", 256, Box::new(x)),
        ("group", "display_name", 256, Box::new(x)),
        ("group", "description", 1024, Box::new(x)),
        ("device_configuration", "display_name", 1024, Box::new(x)),
        ("device_configuration", "description", 10_000, Box::new(x)),
        ("compliance_policy", "display_name", 1024, Box::new(x)),
        ("update_ring", "display_name", 1024, Box::new(x)),
        ("autopilot_profile", "display_name", 200, Box::new(x)),
        ("autopilot_profile", "description", 1500, Box::new(x)),
        ("conditional_access", "display_name", 1024, Box::new(x)),
    ];
    for (kind, field, max, value) in cases {
        let ok = errors_of(&resource(kind, field, &value(max)));
        assert!(
            ok.iter().all(|(code, _)| code != "too-long"),
            "{kind}.{field} at {max}: {ok:?}"
        );
        let bad = errors_of(&resource(kind, field, &value(max + 1)));
        let too_long: Vec<_> = bad.iter().filter(|(code, _)| code == "too-long").collect();
        assert_eq!(too_long.len(), 1, "{kind}.{field} at {}: {bad:?}", max + 1);
        let (_, shown) = too_long[0];
        assert!(
            shown.starts_with("r.toml:")
                && shown.contains(field)
                && shown.contains(&format!("at most {max}")),
            "{shown}"
        );
        assert!(
            !shown.contains(&"x".repeat(50)),
            "the value is not repeated: {shown}"
        );
    }
}

#[test]
fn a_10_mb_display_name_is_refused_at_its_location_in_a_short_report() {
    let huge = "\u{202E}<b>".repeat(10 * 1024 * 1024 / 6);
    let text = format!("# a group\n[group.g]\nmail_nickname = \"g\"\ndisplay_name = \"{huge}\"\n");
    let Err(LoadError::Invalid(d)) = load_str(&[("tenant.toml", TENANT), ("groups.toml", &text)])
    else {
        panic!("a 10 MB display name must be refused")
    };
    let e = d
        .errors()
        .find(|e| e.code == "too-long")
        .expect("too-long reported");
    let l = e.location.as_ref().unwrap();
    assert_eq!((l.line, l.column), (4, 16), "{e}");
    let shown = d.to_string();
    assert!(
        shown.contains("--> groups.toml:4:16"),
        "{}",
        &shown[..shown.len().min(2000)]
    );
    assert!(shown.len() < 4000, "the report is {} bytes", shown.len());
    assert!(
        !shown.contains('\u{202E}'),
        "a right-to-left override is never shown raw"
    );
}

#[test]
fn a_runaway_string_inside_settings_is_refused_at_the_setting() {
    let policy = |n: usize| {
        format!(
            "[device_configuration.a]\nodata_type = \"windows10CustomConfiguration\"\ndisplay_name = \"A\"\n\n[device_configuration.a.settings]\nomaSettings = [{{ displayName = \"x\", omaUri = \"./Vendor/MSFT/X\", value = \"{}\" }}]\n",
            "v".repeat(n)
        )
    };
    assert!(errors_of(&policy(schema::limits::SETTING_TEXT)).iter().all(|(code, _)| code != "too-long"));
    let bad = errors_of(&policy(schema::limits::SETTING_TEXT + 1));
    let too_long: Vec<_> = bad.iter().filter(|(code, _)| code == "too-long").collect();
    assert_eq!(too_long.len(), 1, "{bad:?}");
    assert!(too_long[0].1.starts_with("r.toml:6:15 ") && too_long[0].1.contains("settings.omaSettings"), "{:?}", too_long[0]);
}

/// `[change]` is copied into every plan and journal line: each field is
/// bounded, with an error at the field that does not repeat the value
/// (found by a hostile run: a 10 MB ticket validated).
#[test]
fn change_record_fields_are_bounded_and_located() {
    for (field, max) in [("summary", 500), ("ticket", 128), ("scope", 10_000), ("timeline", 10_000)] {
        let ok = format!("{TENANT}\n[change]\n{field} = \"{}\"\n", "x".repeat(max));
        assert!(load_str(&[("change.toml", &ok)]).is_ok(), "{field} at its cap");
        let long = format!("{TENANT}\n[change]\n{field} = \"{}\"\n", "é".repeat(max + 1));
        let Err(LoadError::Invalid(d)) = load_str(&[("change.toml", &long)]) else {
            panic!("{field}: a value over the cap validated");
        };
        let e = d.errors().next().unwrap();
        assert_eq!(e.code, "too-long", "{d}");
        assert!(e.message.contains(&format!("change.{field} is {} characters long", max + 1)), "{}", e.message);
        let loc = e.location.as_ref().unwrap();
        assert_eq!((loc.file.to_str().unwrap(), loc.line, loc.column), ("change.toml", 5, field.len() + 4), "{d}");
        assert!(d.to_string().len() < 2_000, "the value is not repeated");
    }
}
