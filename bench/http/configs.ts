// Configurations of the C contenders of bench/http: the nginx upstream every path ends at, nginx
// as a reverse proxy and haproxy, one worker/thread each, logging off, keep-alive to the upstream
// (research/perf.md Appendix A, the configurations the anchors were measured with). Rendered from
// the ports and the run directory, so the bench needs no fixed ports and writes nothing outside it.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The upstream's answer: 100 bytes (the issue's "100-byte body"). */
export const BODY_100 = 'x'.repeat(99) + '\n';

export interface Ports {
  /** nginx upstream: HTTP/1.1, h2c (prior knowledge), TLS (the direct TLS contender). */
  upH1: number;
  upH2: number;
  upTls: number;
  nginxH1: number;
  nginxH2: number;
  nginxTls: number;
  haproxyH1: number;
  haproxyH2: number;
  haproxyTls: number;
  /** meshd: the allow-all listeners and the RULES listeners, one proxy process serving all six. */
  meshdH1: number;
  meshdH2: number;
  meshdTls: number;
  rulesH1: number;
  rulesH2: number;
  rulesTls: number;
  xds: number;
  admin: number;
}

export const PORT_NAMES: readonly (keyof Ports)[] = [
  'upH1', 'upH2', 'upTls', 'nginxH1', 'nginxH2', 'nginxTls', 'haproxyH1', 'haproxyH2', 'haproxyTls',
  'meshdH1', 'meshdH2', 'meshdTls', 'rulesH1', 'rulesH2', 'rulesTls', 'xds', 'admin',
];

export interface TlsFiles {
  cert: string;
  key: string;
  /** cert + key in one file, as haproxy's `crt` wants it. */
  combined: string;
}

/** A self-signed ECDSA P-256 certificate for 127.0.0.1/localhost (research/perf.md §2d). */
export function makeTlsFiles(dir: string): TlsFiles {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  const combined = join(dir, 'combined.pem');
  writeFileSync(combined, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
  return { cert, key, combined };
}

/** The gRPC-shaped request body: one length-prefixed message, 5 + 95 = 100 bytes. */
export function writeGrpcBody(dir: string): string {
  const file = join(dir, 'grpc-body.bin');
  const body = Buffer.alloc(100, 'y');
  body[0] = 0; // not compressed
  body.writeUInt32BE(95, 1);
  writeFileSync(file, body);
  return file;
}

function nginxCommon(dir: string, name: string): string {
  return `worker_processes 1;
daemon off;
master_process on;
user root;
pid ${join(dir, `${name}.pid`)};
error_log ${join(dir, `${name}.error.log`)} warn;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${join(dir, `${name}-tmp`, 'body')};
  proxy_temp_path ${join(dir, `${name}-tmp`, 'proxy')};
  fastcgi_temp_path ${join(dir, `${name}-tmp`, 'fastcgi')};
  uwsgi_temp_path ${join(dir, `${name}-tmp`, 'uwsgi')};
  scgi_temp_path ${join(dir, `${name}-tmp`, 'scgi')};
  keepalive_requests 10000000;
  keepalive_timeout 300s;
`;
}

function tlsLines(tls: TlsFiles): string {
  // Full handshakes are not what the keep-alive scenario measures, but a cache would make the
  // contenders differ in what they resume; every contender does full TLS 1.3 handshakes.
  return `ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    ssl_protocols TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets off;`;
}

export function nginxUpstreamConf(dir: string, p: Ports, tls: TlsFiles): string {
  return `${nginxCommon(dir, 'nginx-upstream')}
  server {
    listen 127.0.0.1:${p.upH1};
    location / { default_type text/plain; return 200 "${BODY_100.replace('\n', '\\n')}"; }
  }
  server {
    listen 127.0.0.1:${p.upH2} http2;
    http2_max_concurrent_streams 1000;
    # gRPC-shaped answers: a grpc-status trailer, which every proxy must pass through.
    location / { default_type application/grpc; add_trailer grpc-status 0; return 200 "${BODY_100.replace('\n', '\\n')}"; }
  }
  server {
    listen 127.0.0.1:${p.upTls} ssl;
    ${tlsLines(tls)}
    location / { default_type text/plain; return 200 "${BODY_100.replace('\n', '\\n')}"; }
  }
}
`;
}

export function nginxProxyConf(dir: string, p: Ports, tls: TlsFiles): string {
  return `${nginxCommon(dir, 'nginx-proxy')}
  upstream up_h1 { server 127.0.0.1:${p.upH1}; keepalive 128; keepalive_requests 10000000; }
  upstream up_h2 { server 127.0.0.1:${p.upH2}; keepalive 128; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:${p.nginxH1};
    location / { proxy_pass http://up_h1; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server {
    listen 127.0.0.1:${p.nginxH2} http2;
    http2_max_concurrent_streams 1000;
    # nginx 1.22 proxies HTTP/2 only as grpc_pass (research/perf.md §5): one upstream connection per in-flight request.
    location / { grpc_pass grpc://up_h2; }
  }
  server {
    listen 127.0.0.1:${p.nginxTls} ssl;
    ${tlsLines(tls)}
    location / { proxy_pass http://up_h1; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`;
}

export function haproxyConf(p: Ports, tls: TlsFiles): string {
  return `global
  nbthread 1
  maxconn 4000
  ssl-default-bind-options ssl-min-ver TLSv1.3 no-tls-tickets
  tune.ssl.cachesize 0

defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always

frontend fe_h1
  bind 127.0.0.1:${p.haproxyH1}
  default_backend be_h1

frontend fe_h2
  bind 127.0.0.1:${p.haproxyH2} proto h2
  default_backend be_h2

frontend fe_tls
  bind 127.0.0.1:${p.haproxyTls} ssl crt ${tls.combined}
  default_backend be_h1

backend be_h1
  server up 127.0.0.1:${p.upH1}

backend be_h2
  server up 127.0.0.1:${p.upH2} proto h2
`;
}
