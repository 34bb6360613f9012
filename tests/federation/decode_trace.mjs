// Decode Apollo federated traces (extensions.ftv1) with Apollo's own protobuf reader, as a
// gateway decodes them.
//   node decode_trace.mjs < traces   (one base64 trace a line; one JSON trace a line out)
import { readFileSync } from "node:fs";
import { Trace } from "@apollo/usage-reporting-protobuf";

for (const line of readFileSync(0, "utf8").split("\n").filter(Boolean)) {
  const trace = Trace.decode(Buffer.from(line, "base64"));
  console.log(JSON.stringify(Trace.toObject(trace, { longs: Number, defaults: false })));
}
