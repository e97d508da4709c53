// One PostGraphile worker serving POST /graphql on PORT (127.0.0.1). Run with Node >= 22 (scripts/peer-postgraphile
// installs it). Prints "ready" once it listens, so the bench waits for that line rather than a fixed time.
import cluster from "node:cluster";
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/node";
import preset from "./graphile.config.mjs";

const port = Number(process.env.PORT ?? 5678);
const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.keepAliveTimeout = 65_000;
server.on("error", (e) => {
  console.error(e);
  process.exit(1);
});
await serv.addTo(server);
// The schema is built before the first request is timed.
await pgl.getSchemaResult();
// Under cluster.mjs the primary says when every worker listens.
server.listen(port, "127.0.0.1", () => cluster.isWorker || console.log(`ready ${port}`));
