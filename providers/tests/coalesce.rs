//! Concurrent readers' `$batch` calls are sent one dependency level at a
//! time (`graph::coalesce`, issue 13: the example's quiet pass in at most
//! 6 requests): calls made while other readers still run are held, and
//! sent together once every reader waits or has finished; each caller gets
//! exactly its own answers, a failed item stays its caller's error, and a
//! shared call that fails lets each caller send its own.

mod graph_support;

use std::time::Duration;

use graph_support::{start, static_client, MockServer, Reply};
use providers::graph::coalesce::{join3, join_all};
use providers::graph::{BatchRequest, BatchResponse, GraphClient, GraphError};
use serde_json::{json, Value};

/// A server answering single GETs with `{"value": []}` and `$batch` items
/// with their own URL (403 for `/fail...`); a `$batch` holding
/// `/poison` is refused whole (400).
async fn server() -> MockServer {
    start(|r, _| {
        if r.path.ends_with("/$batch") {
            let requests = r.json()["requests"].as_array().cloned().unwrap_or_default();
            if requests.iter().any(|q| q["url"] == "/poison") {
                return Reply::json(400, json!({"error": {"code": "BadRequest", "message": "refused"}}));
            }
            let responses: Vec<Value> = requests
                .iter()
                .map(|q| match q["url"].as_str().unwrap_or_default() {
                    u if u.starts_with("/fail") => json!({"id": q["id"], "status": 403, "body": {"error": {"code": "Forbidden", "message": "no"}}}),
                    u => json!({"id": q["id"], "status": 200, "body": {"url": u}}),
                })
                .collect();
            Reply::json(200, json!({ "responses": responses }))
        } else {
            Reply::json(200, json!({"value": []}))
        }
    })
    .await
}

/// The `$batch` calls the server saw: (path, item URLs).
fn batches(s: &MockServer) -> Vec<(String, Vec<String>)> {
    s.graph_requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/$batch"))
        .map(|r| {
            let mut urls: Vec<String> = r.json()["requests"].as_array().unwrap().iter().map(|q| q["url"].as_str().unwrap().to_string()).collect();
            urls.sort();
            (r.path.clone(), urls)
        })
        .collect()
}

fn urls(responses: &[BatchResponse]) -> Vec<String> {
    responses.iter().map(|r| r.body.as_ref().and_then(|b| b["url"].as_str()).unwrap_or("?").to_string()).collect()
}

fn gets(paths: &[&str]) -> Vec<BatchRequest> {
    paths.iter().map(|p| BatchRequest::get(*p)).collect()
}

type Reader<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<String>, GraphError>> + Send + 'a>>;

/// Read `levels` one `$batch` after another (after `singles` plain GETs),
/// returning every answer's URL.
fn reader<'a>(client: &'a GraphClient, singles: &'a [&'a str], levels: Vec<Vec<&'a str>>) -> Reader<'a> {
    Box::pin(async move {
        for s in singles {
            client.get_json(s).await?;
        }
        let mut out = Vec::new();
        for level in levels {
            out.extend(urls(&client.batch(gets(&level)).await?));
        }
        Ok(out)
    })
}

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    // Generous: a hang is the failure looked for, not slowness.
    tokio::time::timeout(Duration::from_secs(120), f).await.expect("the readers finished (no reader waits forever)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readers_dependent_reads_of_one_level_share_one_batch() {
    let s = server().await;
    let (client, _) = static_client(&s.base);
    let out = bounded(join_all(vec![
        reader(&client, &["/a"], vec![vec!["/x/a1", "/x/a2"]]),
        reader(&client, &[], vec![vec!["/x/b1"]]),
        reader(&client, &["/c", "/c2"], vec![vec!["/x/c1"], vec!["/x/c-next"]]),
    ]))
    .await;
    let out: Vec<Vec<String>> = out.into_iter().map(Result::unwrap).collect();
    assert_eq!(out, [vec!["/x/a1", "/x/a2"], vec!["/x/b1"], vec!["/x/c1", "/x/c-next"]], "each reader gets its own answers, in its order");
    assert_eq!(
        batches(&s),
        [("/v1.0/$batch".to_string(), vec!["/x/a1".to_string(), "/x/a2".into(), "/x/b1".into(), "/x/c1".into()]), ("/v1.0/$batch".to_string(), vec!["/x/c-next".to_string()])],
        "level one together, then the read that depends on it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_and_beta_items_of_one_level_go_in_one_batch_each() {
    let s = server().await;
    let (client, _) = static_client(&s.base);
    let beta = client.beta();
    let out = bounded(join_all(vec![
        reader(&client, &[], vec![vec!["/x/v1"]]),
        reader(&beta, &[], vec![vec!["/x/beta"]]),
        reader(&client, &[], vec![vec!["/x/v1-b"]]),
    ]))
    .await;
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    let mut b = batches(&s);
    b.sort();
    assert_eq!(b, [("/beta/$batch".to_string(), vec!["/x/beta".to_string()]), ("/v1.0/$batch".to_string(), vec!["/x/v1".to_string(), "/x/v1-b".into()])]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_item_stays_its_own_readers_error() {
    let s = server().await;
    let (client, _) = static_client(&s.base);
    let failing: Reader<'_> = Box::pin(async {
        let r = client.batch(gets(&["/fail/1"])).await?;
        r.into_iter().next().unwrap().into_result().map(|_| vec!["read".to_string()])
    });
    let out = bounded(join_all(vec![failing, reader(&client, &[], vec![vec!["/x/ok"]])])).await;
    assert!(matches!(&out[0], Err(e) if e.to_string().contains("403") || e.to_string().to_lowercase().contains("forbidden")), "{:?}", out[0]);
    assert_eq!(out[1].as_ref().unwrap(), &["/x/ok"]);
    assert_eq!(batches(&s).len(), 1, "one shared call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_call_refused_whole_lets_each_reader_send_its_own() {
    let s = server().await;
    let (client, _) = static_client(&s.base);
    let out = bounded(join_all(vec![reader(&client, &[], vec![vec!["/poison"]]), reader(&client, &[], vec![vec!["/x/ok"]])])).await;
    assert!(out[0].is_err(), "the refused read is an error: {:?}", out[0]);
    assert_eq!(out[1].as_ref().unwrap(), &["/x/ok"], "the other reader's read is sent again on its own");
    let b = batches(&s);
    assert_eq!(b.len(), 3, "shared, then each alone: {b:?}");
    assert_eq!(b[0].1, ["/poison", "/x/ok"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_branches_of_a_reader_wait_for_each_other() {
    let s = server().await;
    let (client, _) = static_client(&s.base);
    let branched: Reader<'_> = Box::pin(async {
        let (a, b, c) = join3(
            reader(&client, &["/slow", "/slower"], vec![vec!["/x/1"]]),
            reader(&client, &[], vec![vec!["/x/2"]]),
            reader(&client, &["/one"], vec![vec!["/x/3"], vec!["/x/3-next"]]),
        )
        .await;
        Ok([a?, b?, c?].concat())
    });
    let out = bounded(join_all(vec![branched, reader(&client, &[], vec![vec!["/x/other"]])])).await;
    assert_eq!(out[0].as_ref().unwrap(), &["/x/1", "/x/2", "/x/3", "/x/3-next"]);
    assert_eq!(out[1].as_ref().unwrap(), &["/x/other"]);
    let b = batches(&s);
    assert_eq!(b, [("/v1.0/$batch".to_string(), vec!["/x/1".to_string(), "/x/2".into(), "/x/3".into(), "/x/other".into()]), ("/v1.0/$batch".to_string(), vec!["/x/3-next".to_string()])]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_a_reader_does_not_declare_never_hangs() {
    let s = server().await;
    let (client, _) = static_client(&s.base);
    let undeclared: Reader<'_> = Box::pin(async {
        let (a, b) = tokio::join!(reader(&client, &[], vec![vec!["/x/u1"]]), reader(&client, &["/first"], vec![vec!["/x/u2"]]));
        Ok([a?, b?].concat())
    });
    let out = bounded(join_all(vec![undeclared, reader(&client, &["/z"], vec![vec!["/x/other"]])])).await;
    assert_eq!(out[0].as_ref().unwrap(), &["/x/u1", "/x/u2"]);
    assert_eq!(out[1].as_ref().unwrap(), &["/x/other"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_items_of_one_level_are_packed_twenty_a_call() {
    let s = server().await;
    let (client, _) = static_client(&s.base);
    // Three readers of 5 items and one of 23 (its full call goes at
    // once, its 3 more are shared): 38 items, 2 calls (not 5, one or two
    // per reader).
    let lists: Vec<Vec<String>> = [("a", 5), ("b", 5), ("c", 5), ("d", 23)].iter().map(|(p, n)| (0..*n).map(|i| format!("/x/{p}{i:02}")).collect()).collect();
    let levels: Vec<Vec<&str>> = lists.iter().map(|l| l.iter().map(String::as_str).collect()).collect();
    let out = bounded(join_all(levels.into_iter().map(|l| reader(&client, &[], vec![l])))).await;
    for (got, want) in out.iter().zip(&lists) {
        assert_eq!(got.as_ref().unwrap(), want);
    }
    let sizes: Vec<usize> = batches(&s).iter().map(|(_, u)| u.len()).collect::<Vec<_>>();
    assert_eq!(sizes.iter().sum::<usize>(), 38);
    assert_eq!(sizes.len(), 2, "{sizes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_join_all_a_batch_goes_at_once() {
    let s = server().await;
    let (client, _) = static_client(&s.base);
    let r = bounded(client.batch(gets(&["/x/alone"]))).await.unwrap();
    assert_eq!(urls(&r), ["/x/alone"]);
    assert_eq!(batches(&s).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_call_does_not_wait_for_a_reader_still_running() {
    // One reader holds 20 items; another is stuck in a single GET that
    // the server answers only after the 20 items have been asked for. Were
    // the full call held for the level, neither would ever finish.
    let s = start(|r, log| {
        if r.path.ends_with("/$batch") {
            let responses: Vec<Value> = r.json()["requests"].as_array().unwrap().iter().map(|q| json!({"id": q["id"], "status": 200, "body": {"url": q["url"]}})).collect();
            return Reply::json(200, json!({ "responses": responses }));
        }
        let asked = log.iter().any(|e| e.path.ends_with("/$batch"));
        Reply::json(200, json!({"value": [], "asked": asked}))
    })
    .await;
    let (client, _) = static_client(&s.base);
    let twenty: Vec<String> = (0..20).map(|i| format!("/x/{i:02}")).collect();
    let level: Vec<&str> = twenty.iter().map(String::as_str).collect();
    let waiting: Reader<'_> = Box::pin(async {
        // Polls until the full call went (bounded: 2,000 GETs).
        for _ in 0..2_000 {
            if client.get_json("/poll").await?["asked"] == json!(true) {
                return Ok(vec!["saw it".to_string()]);
            }
        }
        Ok(vec!["never".to_string()])
    });
    let out = bounded(join_all(vec![reader(&client, &[], vec![level]), waiting])).await;
    assert_eq!(out[0].as_ref().unwrap(), &twenty);
    assert_eq!(out[1].as_ref().unwrap(), &["saw it"], "the full call went while the other reader still ran");
}
