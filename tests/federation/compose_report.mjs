// Compose subgraph SDL files with Apollo's composition library and report everything it says.
//   node compose_report.mjs NAME=SDL_FILE [...]
// Prints one JSON object: {"errors": [{code, message}], "hints": [{code, message}],
// "supergraphSdl": string or null}. compose.mjs prints only the supergraph or the errors; a
// composition test also judges the hints.
import { readFileSync } from "node:fs";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

const services = process.argv.slice(2).map((argument) => {
  const [name, file] = argument.split("=");
  return { name, url: `http://127.0.0.1:1/${name}`, typeDefs: parse(readFileSync(file, "utf8")) };
});
const result = composeServices(services);
const described = (items) =>
  (items ?? []).map((item) => ({
    code: item.definition?.code ?? item.extensions?.code ?? "UNKNOWN",
    message: item.message,
  }));
process.stdout.write(
  JSON.stringify({
    errors: described(result.errors),
    hints: described(result.hints),
    supergraphSdl: result.supergraphSdl ?? null,
  }),
);
