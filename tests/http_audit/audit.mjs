// Run graphql-http's GraphQL-over-HTTP server audit against a live server.
//   node audit.mjs URL  > results.json
// Prints one JSON document: {"total": N, "results": [{id, name, status, reason}, ...]}, where
// N is the number of audits graphql-http defines, status is graphql-http's own (ok, or for a
// failure: error for a MUST, warn for a SHOULD, notice for a MAY) and reason, for a failure,
// is the audit's reason followed by the response it got (status, content-type, body).
// Exits 0 whenever the audit ran, whatever it found; 2 on bad usage, 1 if no audit could run.
import { serverAudits } from "graphql-http";

const BODY_LIMIT = 500;

const [url, ...rest] = process.argv.slice(2);
if (!url || rest.length > 0) {
  console.error("usage: node audit.mjs URL");
  process.exit(2);
}

async function describe(response) {
  if (!response) return "no response";
  const contentType = response.headers.get("content-type") ?? "(none)";
  let body;
  try {
    body = await response.text();
    if (body.length > BODY_LIMIT) body = `${body.slice(0, BODY_LIMIT)}... (${body.length} chars)`;
    body = JSON.stringify(body);
  } catch {
    body = "(already read by the audit)";
  }
  return `got HTTP ${response.status}, content-type ${contentType}, body ${body}`;
}

// What auditServer does (every audit of serverAudits, concurrently), except that an audit
// which throws (graphql-http's "fatal": the request itself failed) becomes an error result
// here instead of rejecting the whole run, so every audit is always accounted for.
const audits = serverAudits({ url });
let fatal = 0;
const results = await Promise.all(
  audits.map(async ({ id, name, fn }) => {
    let result;
    try {
      result = await fn();
    } catch (error) {
      fatal += 1;
      const cause = error?.cause ? ` (${error.cause.message ?? error.cause})` : "";
      return { id, name, status: "error", reason: `the audit could not run: ${error}${cause}` };
    }
    if (result.status === "ok") return { id, name, status: "ok", reason: "" };
    return {
      id,
      name,
      status: result.status,
      reason: `${result.reason}; ${await describe(result.response)}`,
    };
  }),
);

if (audits.length > 0 && fatal === audits.length) {
  console.error(`no audit could run against ${url}:`);
  for (const result of results) console.error(`  ${result.id}: ${result.reason}`);
  process.exit(1);
}
const output = `${JSON.stringify({ total: audits.length, results }, null, 2)}\n`;
// Exit once stdout is flushed: fetch's keep-alive sockets would otherwise hold the process.
process.stdout.write(output, () => process.exit(0));
