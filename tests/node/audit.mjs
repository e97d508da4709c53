// The GraphQL-over-HTTP conformance audit of npm `graphql-http` (a suite no one here wrote) against a gateway:
// `node audit.mjs <http url of /graphql>` prints one line per audit that is not ok and a summary line
// `audit: N ok, N warnings, N errors, N notices`; it exits 1 on any error or warning (notices are MAYs).
import { auditServer } from 'graphql-http';

const [url] = process.argv.slice(2);
const results = await auditServer({ url });
const count = (status) => results.filter((r) => r.status === status).length;
for (const result of results.filter((r) => r.status !== 'ok')) {
  console.log(`${result.status} ${result.id} ${result.name}: ${result.reason}`);
}
console.log(`audit: ${count('ok')} ok, ${count('warn')} warnings, ${count('error')} errors, ${count('notice')} notices`);
process.exit(count('error') + count('warn') > 0 ? 1 : 0);
