// The TypeScript MCP SDK's OAuth client against the API, driven by test_mcp_clients.py.
//
//   node agent.mjs <api url> <client metadata document url>
//
// Writes one JSON object per line on stdout and reads one on stdin:
//   out {"authorize": url}             the browser is to open it (sign in, Allow)
//   out {"me", "access_token", "discovery"} after the code was redeemed
//   in  {"next": "refresh"}            the test has looked at the first token
//   out {"me", "access_token"}         after a refresh
//   in  {"after": "revoke"}            the grant was revoked under Apps with Access
//   out {"me", "auth", "refresh", "authorizations"} then exits 0
// Only the loopback listener for the redirect and the given URLs are contacted.

import { randomBytes } from "node:crypto";
import http from "node:http";
import readline from "node:readline";

import {
  auth,
  discoverAuthorizationServerMetadata,
  extractWWWAuthenticateParams,
} from "@modelcontextprotocol/sdk/client/auth.js";

const [apiUrl, documentUrl] = process.argv.slice(2);
if (!apiUrl || !documentUrl) {
  process.stderr.write("usage: node agent.mjs <api url> <client metadata document url>\n");
  process.exit(2);
}

const say = (message) => process.stdout.write(JSON.stringify(message) + "\n");
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const hear = async () => JSON.parse((await lines.next()).value);

// The redirect URI: a listener on a random loopback port; the first /callback is the answer.
let delivered;
const callback = new Promise((resolve) => {
  delivered = resolve;
});
const listener = http.createServer((request, response) => {
  const url = new URL(request.url, "http://127.0.0.1");
  if (url.pathname === "/callback") delivered(Object.fromEntries(url.searchParams));
  response.writeHead(200, { "Content-Type": "text/html" });
  response.end("<!doctype html><title>Agent</title><p>You can close this window.</p>");
});
await new Promise((resolve) => listener.listen(0, "127.0.0.1", resolve));
const redirectUrl = `http://127.0.0.1:${listener.address().port}/callback`;

// Every token endpoint answer, to report what a refresh got.
const tokenAnswers = [];
const fetchFn = async (url, init) => {
  const response = await fetch(url, init);
  if (String(url).endsWith("/oauth/token")) {
    tokenAnswers.push({ status: response.status, body: await response.clone().json() });
  }
  return response;
};

const authorizations = [];
const store = {
  // What the SDK itself saves when the server supports Client ID Metadata Documents: the
  // document's URL as client_id. Its own check takes https only; the server reads http on
  // loopback in tests, so the record is there from the start.
  client: { client_id: documentUrl },
  tokens: undefined,
  verifier: undefined,
  discovery: undefined,
  state: randomBytes(24).toString("base64url"),
};
const provider = {
  clientMetadataUrl: documentUrl,
  get redirectUrl() {
    return redirectUrl;
  },
  get clientMetadata() {
    return {
      client_name: "Agent Under Test",
      redirect_uris: [redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  },
  state: () => store.state,
  clientInformation: () => store.client,
  saveClientInformation: (info) => {
    store.client = info;
  },
  tokens: () => store.tokens,
  saveTokens: (tokens) => {
    store.tokens = tokens;
  },
  redirectToAuthorization: (url) => {
    authorizations.push(String(url));
    // Only the first is handed to the person: a revoked agent must not get a new grant
    // without anyone noticing.
    if (authorizations.length === 1) say({ authorize: String(url) });
  },
  saveCodeVerifier: (verifier) => {
    store.verifier = verifier;
  },
  codeVerifier: () => store.verifier,
  saveDiscoveryState: (state) => {
    store.discovery = state;
  },
  discoveryState: () => store.discovery,
  invalidateCredentials: (scope) => {
    if (scope === "all" || scope === "tokens") store.tokens = undefined;
    if (scope === "all" || scope === "verifier") store.verifier = undefined;
    if (scope === "all" || scope === "discovery") store.discovery = undefined;
  },
};

const me = async () => {
  const headers = store.tokens ? { Authorization: `Bearer ${store.tokens.access_token}` } : {};
  const response = await fetch(`${apiUrl}/me`, { headers });
  const text = await response.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { response, summary: { status: response.status, body } };
};

// A bare 401 names the resource metadata; the SDK discovers the rest from it.
const bare = await me();
if (bare.summary.status !== 401) throw new Error(`expected a bare 401, got ${bare.summary.status}`);
const { resourceMetadataUrl } = extractWWWAuthenticateParams(bare.response);
const options = { serverUrl: apiUrl, resourceMetadataUrl, fetchFn };

if ((await auth(provider, options)) !== "REDIRECT") throw new Error("no authorization asked for");
const answer = await callback;
if (!answer.code || answer.state !== store.state) {
  throw new Error(`not a code for this authorization: ${JSON.stringify(answer)}`);
}
const asServer = store.discovery.authorizationServerUrl;
if (answer.iss !== store.discovery.authorizationServerMetadata.issuer) {
  throw new Error(`iss ${answer.iss} is not the issuer`);
}
if ((await auth(provider, { ...options, authorizationCode: answer.code })) !== "AUTHORIZED") {
  throw new Error("the code was not redeemed");
}
const asMetadata = await discoverAuthorizationServerMetadata(asServer, { fetchFn });
say({
  me: (await me()).summary,
  access_token: store.tokens.access_token,
  discovery: {
    resource_metadata: String(resourceMetadataUrl),
    authorization_server: asServer,
    resource: store.discovery.resourceMetadata?.resource,
    client_id_metadata_document_supported: asMetadata.client_id_metadata_document_supported,
  },
});

// The test looks at the stored token before the refresh replaces it.
const go = await hear();
if (go.next !== "refresh") throw new Error(`unexpected ${JSON.stringify(go)}`);

// With a refresh token stored, auth() refreshes (what the SDK's transports do on a 401).
if ((await auth(provider, options)) !== "AUTHORIZED") throw new Error("no refresh");
say({ me: (await me()).summary, access_token: store.tokens.access_token });

const told = await hear();
if (told.after !== "revoke") throw new Error(`unexpected ${JSON.stringify(told)}`);
const refused = await me();
const before = tokenAnswers.length;
const again = await auth(provider, options);
say({
  me: refused.summary,
  auth: again,
  refresh: tokenAnswers.slice(before).map((answer) => answer.body)[0] ?? null,
  authorizations: authorizations.length,
  me_after: (await me()).summary.status,
});
listener.close();
process.exit(0);
