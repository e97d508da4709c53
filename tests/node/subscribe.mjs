// One subscriber using the npm `graphql-ws` client (the graphql-transport-ws protocol), for the end-to-end test:
// `node subscribe.mjs <ws url> <portal id> <query> <variables JSON>` prints `{"connected":true}` once the gateway
// acknowledged the connection, then one JSON line per result; it exits 1 on an error.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, portal, query, variables] = process.argv.slice(2);
const print = (value) => process.stdout.write(JSON.stringify(value) + '\n');

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  lazy: false,
  retryAttempts: 0,
  connectionParams: { 'X-HubSpot-Portal-Id': portal },
  on: { connected: () => print({ connected: true }) },
});

client.subscribe(
  { query, variables: JSON.parse(variables || '{}') },
  {
    next: (result) => print(result),
    error: (error) => {
      process.stderr.write(`subscription failed: ${JSON.stringify(error, Object.getOwnPropertyNames(error))}\n`);
      process.exit(1);
    },
    complete: () => process.exit(0),
  },
);
