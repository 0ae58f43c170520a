//! The container image and Kubernetes manifests under deploy/, checked as
//! files, and the Deployment's own arguments run as a service against the
//! sandbox: /healthz, /readyz and /metrics answer on the port the probes
//! use, logs are JSON, and SIGTERM stops it cleanly.

mod common;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
                .map(|(k, v)| (k.as_str().expect("string keys").to_owned(), to_json(v)))
                .collect(),
        ),
        Yaml::Null => Value::Null,
        other => panic!("unsupported YAML node {other:?}"),
    }
}

fn kube_dir() -> PathBuf {
    repo().join("deploy/kubernetes")
}

/// Every manifest, by kind/name.
fn manifests() -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(kube_dir()).unwrap() {
        let path = e.unwrap().path();
        if path.extension() != Some(std::ffi::OsStr::new("yaml")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in
            YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        {
            let v = to_json(&doc);
            let kind = v["kind"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: no kind", path.display()))
                .to_owned();
            assert!(
                v["apiVersion"].is_string(),
                "{}: apiVersion",
                path.display()
            );
            let name = v["metadata"]["name"].as_str().unwrap_or("").to_owned();
            out.insert(format!("{kind}/{name}"), v);
        }
    }
    out
}

fn deployment() -> Value {
    manifests()
        .remove("Deployment/tenantctl")
        .expect("Deployment/tenantctl")
}

fn container(d: &Value) -> Value {
    let cs = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(cs.len(), 1);
    cs[0].clone()
}

fn args(c: &Value) -> Vec<String> {
    c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

fn flag(args: &[String], name: &str) -> String {
    let i = args
        .iter()
        .position(|a| a == name)
        .unwrap_or_else(|| panic!("{name} in {args:?}"));
    args[i + 1].clone()
}

#[test]
fn manifests_are_complete_and_consistent() {
    let all = manifests();
    // kustomization lists exactly the manifests there are.
    let kustomization = all.get("Kustomization/").expect("kustomization.yaml");
    for r in kustomization["resources"].as_array().unwrap() {
        assert!(
            kube_dir().join(r.as_str().unwrap()).exists(),
            "{r} listed but missing"
        );
    }
    let d = deployment();
    let pod = &d["spec"]["template"];
    let c = container(&d);
    let a = args(&c);
    assert_eq!(a[0], "reconcile");
    let image = c["image"].as_str().unwrap();
    assert!(
        image.contains(':') && !image.ends_with(":latest"),
        "a pinned image: {image}"
    );
    // Metrics port: the one reconcile listens on, named for the probes.
    let addr = flag(&a, "--metrics-addr");
    let port: i64 = addr.rsplit(':').next().unwrap().parse().unwrap();
    assert!(
        a.contains(&"--metrics-allow-remote".to_owned()),
        "the kubelet reaches the pod address, not loopback"
    );
    assert_eq!(c["ports"][0]["containerPort"], port);
    assert_eq!(c["ports"][0]["name"], "metrics");
    for (probe, path) in [
        ("livenessProbe", "/healthz"),
        ("startupProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ] {
        assert_eq!(c[probe]["httpGet"]["path"], path, "{probe}");
        assert_eq!(c[probe]["httpGet"]["port"], "metrics", "{probe}");
    }
    assert_eq!(flag(&a, "--log-format"), "json");
    assert_eq!(
        pod["metadata"]["annotations"]["prometheus.io/port"],
        port.to_string()
    );
    // Workload identity: the label on the pod, the client id on its service account.
    assert_eq!(
        pod["metadata"]["labels"]["azure.workload.identity/use"],
        "true"
    );
    let sa = pod["spec"]["serviceAccountName"].as_str().unwrap();
    let account = &all[&format!("ServiceAccount/{sa}")];
    assert!(account["metadata"]["annotations"]["azure.workload.identity/client-id"].is_string());
    // Non-root, read-only root filesystem; state and desired state on volumes.
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    let mounts: BTreeMap<String, String> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_owned(),
                m["mountPath"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let dir = &a[1];
    assert_eq!(
        &mounts["desired-state"], dir,
        "the desired state is mounted where reconcile reads it"
    );
    let state = format!("{}/.tenantctl", dir.rsplit_once('/').unwrap().0);
    assert_eq!(
        mounts["state"], state,
        "state lives beside the desired state"
    );
    let env: BTreeMap<String, String> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["value"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        env["TENANTCTL_LEDGER"].starts_with(&state),
        "the ledger is on the state volume"
    );
    let volumes = pod["spec"]["volumes"].as_array().unwrap();
    let claim = volumes
        .iter()
        .find_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
        .unwrap();
    assert!(all.contains_key(&format!("PersistentVolumeClaim/{claim}")));
    assert!(volumes
        .iter()
        .any(|v| v["configMap"]["name"] == "tenantctl-desired-state"));
    assert_eq!(
        all["Service/tenantctl-metrics"]["spec"]["ports"][0]["targetPort"],
        "metrics"
    );
    assert_eq!(d["spec"]["replicas"], 1);
    assert_eq!(d["spec"]["strategy"]["type"], "Recreate");
}

#[test]
fn dockerfile_is_multi_stage_non_root_and_runs_the_same_service() {
    let text = std::fs::read_to_string(repo().join("deploy/Dockerfile")).unwrap();
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    assert!(froms.last().unwrap().contains("distroless"), "{froms:?}");
    assert!(text.contains("--locked"), "the build uses Cargo.lock");
    let user = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER");
    let uid = user.split(':').next().unwrap();
    assert_ne!(uid, "0");
    assert_eq!(
        container(&deployment())["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(
        deployment()["spec"]["template"]["spec"]["securityContext"]["runAsUser"].to_string(),
        uid
    );
    let cmd: Vec<String> =
        serde_json::from_str(text.lines().find_map(|l| l.strip_prefix("CMD ")).unwrap()).unwrap();
    let a = args(&container(&deployment()));
    assert_eq!(cmd, a, "the image's default command is the Deployment's");
    let port = flag(&a, "--metrics-addr")
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    assert!(text.contains(&format!("EXPOSE {port}")));
}

fn get(url: &str) -> (u16, String) {
    // A tiny blocking client over the async one.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
        {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(_) => (0, String::new()),
        }
    })
}

#[test]
fn the_deployments_arguments_run_a_healthy_service_that_stops_on_sigterm() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sb = rt.block_on(sandbox());
    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    // The Deployment's arguments, with its paths and address mapped here.
    let c = container(&deployment());
    let a: Vec<String> = args(&c)
        .into_iter()
        .map(|x| {
            if x == "/work/desired-state" {
                dir.display().to_string()
            } else if x.starts_with("0.0.0.0:") {
                "127.0.0.1:0".to_owned()
            } else {
                x
            }
        })
        .collect();
    // The state volume.
    std::fs::create_dir_all(work.path().join(".tenantctl")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantctl"))
        .args(&a)
        .env("TENANTCTL_GRAPH_URL", sb.base_url())
        .env("AZURE_TENANT_ID", sb.tenant_id())
        .env("AZURE_CLIENT_ID", sb.client_id())
        .env("AZURE_CLIENT_SECRET", sb.client_secret())
        .env(
            "TENANTCTL_LEDGER",
            work.path().join(".tenantctl/tenantctl.lock"),
        )
        .env_remove("TENANTCTL_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let mut base = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    while base.is_none() && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) {
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
            if let Some(m) = v["fields"]["message"]
                .as_str()
                .and_then(|m| m.strip_prefix("Metrics on "))
            {
                base = Some(m.trim_end_matches("/metrics").to_owned());
            }
            lines.push(v);
        }
    }
    let base = base.unwrap_or_else(|| panic!("no metrics address logged: {lines:?}"));
    assert_eq!(get(&format!("{base}/healthz")).0, 200);
    // Ready once the first pass has read and compared the tenant.
    let mut ready = (0, String::new());
    while Instant::now() < deadline {
        ready = get(&format!("{base}/readyz"));
        if ready.0 == 200 {
            break;
        }
        assert_eq!(ready.0, 503, "{ready:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(ready.0, 200, "{ready:?}");
    let metrics = get(&format!("{base}/metrics")).1;
    assert!(metrics.contains("tenantctl_passes_total 1"), "{metrics}");
    // SIGTERM: a clean stop.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(120);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "reconcile did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    reader.join().unwrap();
    lines.extend(rx.try_iter().map(|l| {
        serde_json::from_str::<Value>(&l).unwrap_or_else(|_| panic!("not a JSON log line: {l}"))
    }));
    assert!(code.success(), "{code:?}: {lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string()),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Stopping"))),
        "{lines:?}"
    );
    rt.block_on(sb.shutdown()).unwrap();
}

#[test]
fn json_logs_report_errors_at_error_level() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tenantctl"))
        .args(["--log-format", "json", "validate"])
        .arg(dir.path().join("missing"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<Value> = text(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["level"] == "ERROR"
            && l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("error: "))),
        "{lines:?}"
    );
}
