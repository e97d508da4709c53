// PostGraphile v5 as the bench's peer: the Amber preset (its defaults) over the mirror's `public` tables and the
// `peer` schema's computed columns (peer.sql), with the smart tags of postgraphile.tags.json5. DATABASE_URL names the
// mirror. Each worker keeps pg's default pool of 10 connections, about one gateway HTTP worker's share of its 32.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { makePgSmartTagsFromFilePlugin } from "postgraphile/utils";

const tags = new URL("./postgraphile.tags.json5", import.meta.url).pathname;

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  plugins: [makePgSmartTagsFromFilePlugin(tags)],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public", "peer"],
    }),
  ],
  grafserv: { graphiql: false, watch: false },
  grafast: { explain: false },
};

export default preset;
