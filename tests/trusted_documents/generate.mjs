// Writes graphql-codegen's client preset output for ./operations against a schema, with
// persisted documents (`persistedDocuments: true`: the preset hashes with SHA-256 and writes
// `sha256:<hex>` ids), as a frontend's build would:
//   node generate.mjs SCHEMA OUTPUT_DIR   (OUTPUT_DIR/persisted-documents.json is the manifest)
import { generate } from "@graphql-codegen/cli";
// The preset itself, not its name: codegen would look a name up from the working directory.
import { preset } from "@graphql-codegen/client-preset";
import path from "node:path";
import { fileURLToPath } from "node:url";

const [schema, output] = process.argv.slice(2);
if (!schema || !output) {
  console.error("usage: node generate.mjs SCHEMA OUTPUT_DIR");
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
await generate(
  {
    schema,
    documents: [path.join(here, "operations", "*.graphql")],
    generates: {
      [`${output.replace(/\/?$/, "/")}`]: {
        preset,
        presetConfig: { persistedDocuments: true },
      },
    },
  },
  true,
);
