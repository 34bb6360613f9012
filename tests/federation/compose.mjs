// Compose a supergraph from subgraph SDL files with Apollo's composition library.
//   node compose.mjs NAME=URL=SDL_FILE [...]  > supergraph.graphql
// Prints the supergraph SDL on success; the composition errors and exit code 1 otherwise.
import { readFileSync } from "node:fs";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

const services = process.argv.slice(2).map((argument) => {
  const [name, url, file] = argument.split("=");
  return { name, url, typeDefs: parse(readFileSync(file, "utf8")) };
});
if (services.length === 0) {
  console.error("usage: node compose.mjs NAME=URL=SDL_FILE [...]");
  process.exit(2);
}
const result = composeServices(services);
if (result.errors) {
  for (const error of result.errors) console.error(error.message);
  process.exit(1);
}
process.stdout.write(result.supergraphSdl);
