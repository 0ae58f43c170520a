//! `$select` and `$filter` name properties of the collection's type, as
//! Graph requires: an unknown property is 400, and a collection property is
//! compared inside `any()`, never with `eq`.

mod common;

use common::*;

#[tokio::test]
async fn unknown_properties_and_eq_on_a_collection_are_refused() {
    let env = start().await;
    env.create_user("ada").await;
    let ok = env.get("/v1.0/users?$select=id,displayName,otherMails").await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let ok = env.get("/v1.0/users?$filter=otherMails/any(x:x eq 'a@b.c')").await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let ok = env.get("/v1.0/groups?$filter=displayName eq 'x'&$select=id,securityEnabled").await;
    assert_eq!(ok.status, 200, "{}", ok.body);

    let r = env.get("/v1.0/users?$select=id,favouriteColour").await;
    assert_graph_error(&r, 400, "Request_BadRequest");
    assert!(r.msg().contains("Could not find a property named 'favouriteColour' on type 'microsoft.graph.user'"), "{}", r.body);
    let r = env.get("/v1.0/groups?$filter=colour eq 'red'").await;
    assert_graph_error(&r, 400, "Request_BadRequest");
    assert!(r.msg().contains("'colour'"), "{}", r.body);
    let r = env.get("/v1.0/users?$filter=otherMails eq 'a@b.c'").await;
    assert_graph_error(&r, 400, "Request_BadRequest");
    assert!(r.msg().contains("any()"), "{}", r.body);
    let r = env.get("/v1.0/identity/conditionalAccess/policies?$select=id,priority").await;
    assert_graph_error(&r, 400, "Request_BadRequest");
}
