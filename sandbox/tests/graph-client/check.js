// Drives the tenantctl sandbox with Microsoft's official Graph JavaScript
// client (@microsoft/microsoft-graph-client) to prove that the sandbox speaks
// Graph's wire format: the client's own PageIterator, BatchRequestContent /
// BatchResponseContent and GraphError parsing are used unchanged.
//
// Usage: node check.js <sandbox base URL> <access token> <verified domain>
//
// The client only attaches tokens to, and only parses absolute nextLinks of,
// https:// hosts. So the client talks to https://graph.microsoft.com and the
// fetch it uses is pointed at the sandbox, with X-Forwarded-Proto/-Host so the
// sandbox writes its absolute links as the client sees them (as it would
// behind a TLS-terminating proxy). Nothing else is adapted.
"use strict";

const { Client, PageIterator, BatchRequestContent, BatchResponseContent } = require("@microsoft/microsoft-graph-client");

const [base, token, domain] = process.argv.slice(2);
if (!base || !token || !domain) {
  console.error("usage: node check.js <base> <token> <domain>");
  process.exit(2);
}

const GRAPH = "https://graph.microsoft.com";
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = typeof input === "string" ? input : input.url;
  if (!url.startsWith(GRAPH)) {
    throw new Error(`unexpected request to ${url}`);
  }
  const target = base + url.slice(GRAPH.length);
  const headers = new Headers((init && init.headers) || (typeof input === "string" ? undefined : input.headers));
  headers.set("X-Forwarded-Proto", "https");
  headers.set("X-Forwarded-Host", "graph.microsoft.com");
  return realFetch(target, { ...init, headers });
};

const client = Client.init({
  authProvider: (done) => done(null, token),
  defaultVersion: "v1.0",
});

async function main() {
  const out = {};

  // 1. Create a user.
  const user = await client.api("/users").post({
    accountEnabled: true,
    displayName: "Node Client",
    mailNickname: "node.client",
    userPrincipalName: `node.client@${domain}`,
    passwordProfile: { password: "Passw0rd!Passw0rd!", forceChangePasswordNextSignIn: false },
  });
  out.createdId = user.id;
  out.createdUpn = user.userPrincipalName;

  // 2. List users through several pages with the client's PageIterator.
  const first = await client.api("/users").top(50).select(["id", "userPrincipalName"]).get();
  let count = 0;
  const ids = new Set();
  const iterator = new PageIterator(client, first, (u) => {
    count += 1;
    ids.add(u.id);
    return true;
  });
  await iterator.iterate();
  out.listed = count;
  out.distinct = ids.size;

  // 3. A serial batch (the client allows only parallel, serial or same-dependency
  //    batches): a create, a read of a missing user, and a request depending on the failed read.
  const batch = new BatchRequestContent([
    {
      id: "1",
      request: new Request(`${GRAPH}/v1.0/groups`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ displayName: "Node Batch Group", mailEnabled: false, mailNickname: "node-batch", securityEnabled: true }),
      }),
    },
    { id: "2", request: new Request(`${GRAPH}/v1.0/users/00000000-0000-0000-0000-000000000000`, { method: "GET" }), dependsOn: ["1"] },
    { id: "3", request: new Request(`${GRAPH}/v1.0/users/${user.id}`, { method: "GET" }), dependsOn: ["2"] },
  ]);
  const batchBody = await batch.getContent();
  const batchResponse = new BatchResponseContent(await client.api("/$batch").post(batchBody));
  out.batch = {};
  for (const [id, resp] of batchResponse.getResponses()) {
    out.batch[id] = resp.status;
  }
  const created = await batchResponse.getResponseById("1").json();
  out.batchGroupName = created.displayName;

  // 4. Read an error the way the client parses it.
  try {
    await client.api("/users/00000000-0000-0000-0000-000000000000").get();
    out.error = null;
  } catch (e) {
    out.error = { statusCode: e.statusCode, code: e.code, hasRequestId: !!e.requestId, hasDate: e.date instanceof Date && !isNaN(e.date) };
  }

  // 5. Throttling: the client's RetryHandler understands the sandbox's 429 + Retry-After.
  const setFaults = (f) => realFetch(`${base}/_sandbox/faults`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(f) });
  await setFaults({ throttle_rate: 0.5, retry_after_secs: 1, seed: 7 });
  let retried = 0;
  for (let i = 0; i < 4; i++) {
    const page = await client.api("/users").top(1).get();
    retried += page.value.length;
  }
  await setFaults({});
  out.afterThrottling = retried;

  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error("FAILED", e && (e.stack || e.message || e));
  process.exit(1);
});
