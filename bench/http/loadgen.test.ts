// The parsers of wrk's and h2load's output, on output captured from the installed versions (wrk 4.1.0,
// h2load 1.52.0): a bench that misreads its load generator reports numbers nobody measured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseH2load, parseWrk } from './loadgen.js';

const WRK = `Running 1s test @ http://127.0.0.1:18999/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   608.19us    1.21ms   7.89ms   87.18%
    Req/Sec    23.17k     9.66k   41.43k    81.82%
  Latency Distribution
     50%   35.00us
     75%  571.00us
     90%    2.24ms
     99%    5.72ms
  25392 requests in 1.11s, 3.61MB read
  Socket errors: connect 0, read 3, write 0, timeout 0
  Non-2xx or 3xx responses: 12
Requests/sec:  22859.53
Transfer/sec:      3.25MB
`;

const H2LOAD = `finished in 1.16ms, 17211.70 req/s, 1.16MB/s
requests: 20 total, 20 started, 20 done, 19 succeeded, 1 failed, 0 errored, 0 timeout
status codes: 19 2xx, 0 3xx, 0 4xx, 1 5xx
traffic: 1.38KB (1409) total, 960B (960) headers (space savings 51.02%), 40B (40) data
`;

test('wrk output gives requests, req/s, p50/p99 in ms and the errors it reports', () => {
  const r = parseWrk(WRK);
  assert.equal(r.requests, 25392);
  assert.equal(r.rps, 22859.53);
  assert.equal(r.p50Ms, 0.035);
  assert.equal(r.p99Ms, 5.72);
  assert.equal(r.errors, 'socket errors connect 0, read 3, write 0, timeout 0; 12 non-2xx');
});

test('h2load output and its log file give requests, req/s, percentiles of the logged durations, and failures', () => {
  const log = Array.from({ length: 100 }, (_, i) => `1795258813779512\t200\t${(i + 1) * 10}`).join('\n') + '\n';
  const r = parseH2load(H2LOAD, log, 1);
  assert.equal(r.requests, 20);
  assert.equal(r.rps, 17211.7);
  assert.equal(r.p50Ms, 0.5);
  assert.equal(r.p99Ms, 0.99);
  assert.equal(r.errors, '1 failed, 0 errored, 0 timeout; 1 non-2xx');
});

test('output that is not wrk output is an error, not zeros', () => {
  assert.throws(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused'), /cannot read wrk output/);
  assert.throws(() => parseH2load('No protocol negotiated', '', 1), /cannot read h2load output/);
});
