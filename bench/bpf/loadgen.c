// SPDX-License-Identifier: Apache-2.0
/* bench/bpf's load generator, compiled with cc when the bench starts (bench/bpf/loadgen.ts).
 * Hand-written rather than netperf/wrk because the bench needs four small things in one binary
 * that Debian's tools do not give together: connection rate with the *server* closing first
 * (so TIME_WAIT lands on the server and the client never runs out of ports), a bound in both
 * time and count, a transparent relay that asks SO_ORIGINAL_DST (answered by conntrack for
 * iptables, by meshd's cgroup/getsockopt program for eBPF), and one JSON line of results.
 *
 *   srv   ADDR PORT                 echo on PORT, sink on PORT+1, echo-once-then-close on PORT+2
 *   crr   HOST PORT SECS MAXOPS SIZE  new connection per request (to an echo-once port)
 *   rr    HOST PORT SECS MAXOPS SIZE  request/response on one connection (to an echo port)
 *   tput  HOST PORT SECS CHUNK        write CHUNK-byte buffers into a sink for SECS
 *   relay ADDR PORT [UPHOST UPPORT]  accept, SO_ORIGINAL_DST (or the fixed upstream), connect
 *                                   there, copy both ways
 * Every client prints {"ops":…,"seconds":…,"rate":…,"p50_us":…,"p99_us":…,"errors":…}. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define BUF_SIZE (256 * 1024)
#define MAX_ERRORS 100

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static socklen_t make_addr(const char *host, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		return sizeof(*a4);
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		return sizeof(*a6);
	}
	fprintf(stderr, "loadgen: not an address: %s\n", host);
	exit(2);
}

static void set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void set_nonblocking(int fd, int on)
{
	int flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 0 on success, -1 on error or early EOF. */
static int read_exact(int fd, char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = read(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- server ------------------------------------------------------------------------------ */

enum kind { K_LISTEN_ECHO, K_LISTEN_SINK, K_LISTEN_ONCE, K_ECHO, K_SINK, K_ONCE };

struct srv_conn {
	int fd;
	enum kind kind;
};

static int listen_on(const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(addr, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	int one = 1;
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6) {
		int zero = 0; /* "::" takes IPv4 too */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		die("bind");
	if (listen(fd, 4096) < 0)
		die("listen");
	set_nonblocking(fd, 1);
	return fd;
}

static void epoll_add(int ep, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl");
}

static int cmd_srv(const char *addr, int port)
{
	static char buf[BUF_SIZE];
	int ep = epoll_create1(0);
	enum kind kinds[3] = { K_LISTEN_ECHO, K_LISTEN_SINK, K_LISTEN_ONCE };
	for (int i = 0; i < 3; i++) {
		struct srv_conn *l = calloc(1, sizeof(*l));
		l->fd = listen_on(addr, port + i);
		l->kind = kinds[i];
		epoll_add(ep, l->fd, EPOLLIN, l);
	}
	printf("ready\n");
	fflush(stdout);
	struct epoll_event events[MAX_EVENTS];
	for (;;) {
		int n = epoll_wait(ep, events, MAX_EVENTS, -1);
		if (n < 0 && errno == EINTR)
			continue;
		for (int i = 0; i < n; i++) {
			struct srv_conn *c = events[i].data.ptr;
			if (c->kind <= K_LISTEN_ONCE) {
				for (;;) {
					int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
					if (fd < 0)
						break;
					set_nodelay(fd);
					struct srv_conn *a = calloc(1, sizeof(*a));
					a->fd = fd;
					a->kind = c->kind + (K_ECHO - K_LISTEN_ECHO);
					epoll_add(ep, fd, EPOLLIN, a);
				}
				continue;
			}
			/* Blocking sockets, one read per readiness: the read never blocks, and an echo
			 * write blocks at most until the client reads, which it always does. */
			ssize_t r = read(c->fd, buf, sizeof(buf));
			if (r > 0 && c->kind == K_SINK)
				continue;
			if (r > 0 && write_all(c->fd, buf, (size_t)r) == 0 && c->kind == K_ECHO)
				continue;
			if (r < 0 && errno == EINTR)
				continue;
			/* EOF, error, or echo-once done: this side closes first (TIME_WAIT stays here). */
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			close(c->fd);
			free(c);
		}
	}
	return 0;
}

/* ---- clients ----------------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *mode, uint64_t ops, double seconds, uint32_t *lat_ns, uint64_t nlat, uint64_t errors,
		   int first_errno, double bytes)
{
	double p50 = 0, p99 = 0;
	if (nlat > 0) {
		qsort(lat_ns, nlat, sizeof(*lat_ns), cmp_u32);
		p50 = lat_ns[nlat / 2] / 1000.0;
		p99 = lat_ns[(nlat * 99) / 100 < nlat ? (nlat * 99) / 100 : nlat - 1] / 1000.0;
	}
	printf("{\"mode\":\"%s\",\"ops\":%llu,\"seconds\":%.4f,\"rate\":%.1f,\"p50_us\":%.2f,\"p99_us\":%.2f,"
	       "\"bytes\":%.0f,\"errors\":%llu,\"first_error\":\"%s\"}\n",
	       mode, (unsigned long long)ops, seconds, seconds > 0 ? ops / seconds : 0, p50, p99, bytes,
	       (unsigned long long)errors, first_errno ? strerror(first_errno) : "");
}

static uint32_t ns_since(double t0)
{
	double d = (now_s() - t0) * 1e9;
	return d > 4e9 ? 4000000000u : (uint32_t)d;
}

static int cmd_crr(const char *host, int port, double secs, uint64_t maxops, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(host, port, &ss);
	char *buf = calloc(1, size + 1);
	uint32_t *lat = calloc(maxops, sizeof(*lat));
	uint64_t ops = 0, errors = 0;
	int first_errno = 0;
	double start = now_s(), deadline = start + secs;
	while (ops < maxops && errors < MAX_ERRORS) {
		double t0 = now_s();
		if (t0 >= deadline)
			break;
		int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		set_nodelay(fd);
		char eof;
		int ok = connect(fd, (struct sockaddr *)&ss, len) == 0 && write_all(fd, buf, size) == 0 &&
			 read_exact(fd, buf, size) == 0 && read(fd, &eof, 1) == 0;
		if (!ok) {
			if (!first_errno)
				first_errno = errno ? errno : ECONNRESET;
			errors++;
		} else {
			lat[ops++] = ns_since(t0);
		}
		close(fd);
	}
	report("crr", ops, now_s() - start, lat, ops, errors, first_errno, 0);
	return errors >= MAX_ERRORS;
}

static int cmd_rr(const char *host, int port, double secs, uint64_t maxops, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(host, port, &ss);
	char *buf = calloc(1, size);
	uint32_t *lat = calloc(maxops, sizeof(*lat));
	uint64_t ops = 0;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	set_nodelay(fd);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		report("rr", 0, 0, lat, 0, 1, errno, 0);
		return 1;
	}
	double start = now_s(), deadline = start + secs;
	while (ops < maxops) {
		double t0 = now_s();
		if (t0 >= deadline)
			break;
		if (write_all(fd, buf, size) < 0 || read_exact(fd, buf, size) < 0) {
			report("rr", ops, now_s() - start, lat, ops, 1, errno ? errno : ECONNRESET, 0);
			return 1;
		}
		lat[ops++] = ns_since(t0);
	}
	report("rr", ops, now_s() - start, lat, ops, 0, 0, 0);
	close(fd);
	return 0;
}

static int cmd_tput(const char *host, int port, double secs, size_t chunk)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(host, port, &ss);
	char *buf = calloc(1, chunk);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	set_nodelay(fd);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		report("tput", 0, 0, NULL, 0, 1, errno, 0);
		return 1;
	}
	double start = now_s(), deadline = start + secs, bytes = 0;
	uint64_t writes = 0;
	while (now_s() < deadline) {
		ssize_t n = write(fd, buf, chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			report("tput", writes, now_s() - start, NULL, 0, 1, errno, bytes);
			return 1;
		}
		bytes += (double)n;
		writes++;
	}
	report("tput", writes, now_s() - start, NULL, 0, 0, 0, bytes);
	close(fd);
	return 0;
}

/* ---- relay ------------------------------------------------------------------------------- */

/* One side of a relayed connection. Data read from `fd` is written to peer->fd; what the peer
 * cannot take yet waits in `pending` (and reading from `fd` pauses until it drained). */
struct side {
	int fd;
	struct side *peer;
	char *pending;
	size_t pending_len;
	int read_eof;   /* fd sent EOF */
	int shut_peer;  /* peer->fd was shut down for writing */
	int is_listener;
	int closed;     /* fds closed; freed after the current epoll batch */
	struct side *next_free;
};

static int relay_ep;
/* A fixed upstream, for redirects whose original destination the relay cannot ask for (DNAT in
 * another netns: the conntrack entry is there, not here). */
static int relay_fixed;
static struct sockaddr_in relay_upstream;
/* Sides closed during one epoll batch: later events of the same batch may still point at them. */
static struct side *free_list;

static void side_events(struct side *s)
{
	uint32_t ev = 0;
	if (!s->read_eof && s->peer->pending_len == 0)
		ev |= EPOLLIN;
	if (s->pending_len > 0)
		ev |= EPOLLOUT;
	struct epoll_event e = { .events = ev, .data.ptr = s };
	epoll_ctl(relay_ep, EPOLL_CTL_MOD, s->fd, &e);
}

static void pair_close(struct side *s)
{
	struct side *p = s->peer;
	epoll_ctl(relay_ep, EPOLL_CTL_DEL, s->fd, NULL);
	epoll_ctl(relay_ep, EPOLL_CTL_DEL, p->fd, NULL);
	close(s->fd);
	close(p->fd);
	s->closed = p->closed = 1;
	s->next_free = p;
	p->next_free = free_list;
	free_list = s;
}

static void free_closed(void)
{
	while (free_list) {
		struct side *next = free_list->next_free;
		free(free_list->pending);
		free(free_list);
		free_list = next;
	}
}

static int pair_done(struct side *s)
{
	return s->read_eof && s->peer->read_eof && s->pending_len == 0 && s->peer->pending_len == 0;
}

/* Forward EOF once everything before it went out. */
static void maybe_shut(struct side *s)
{
	if (s->read_eof && !s->shut_peer && s->peer->pending_len == 0) {
		shutdown(s->peer->fd, SHUT_WR);
		s->shut_peer = 1;
	}
}

static void relay_accept(int lfd)
{
	for (;;) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		struct sockaddr_in orig = relay_upstream;
		socklen_t olen = sizeof(orig);
		if (!relay_fixed && getsockopt(cfd, SOL_IP, SO_ORIGINAL_DST, &orig, &olen) < 0) {
			fprintf(stderr, "loadgen relay: SO_ORIGINAL_DST: %s\n", strerror(errno));
			close(cfd);
			continue;
		}
		int ufd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		set_nodelay(cfd);
		set_nodelay(ufd);
		/* Blocking connect: the upstream is on this host, its handshake completes at once. */
		if (connect(ufd, (struct sockaddr *)&orig, sizeof(orig)) < 0) {
			fprintf(stderr, "loadgen relay: connect upstream: %s\n", strerror(errno));
			close(cfd);
			close(ufd);
			continue;
		}
		set_nonblocking(cfd, 1);
		set_nonblocking(ufd, 1);
		struct side *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
		a->fd = cfd;
		b->fd = ufd;
		a->peer = b;
		b->peer = a;
		epoll_add(relay_ep, cfd, EPOLLIN, a);
		epoll_add(relay_ep, ufd, EPOLLIN, b);
	}
}

static void relay_readable(struct side *s, char *buf)
{
	ssize_t n = read(s->fd, buf, BUF_SIZE);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		pair_close(s);
		return;
	}
	if (n == 0) {
		s->read_eof = 1;
		maybe_shut(s);
		if (pair_done(s)) {
			pair_close(s);
			return;
		}
		side_events(s);
		return;
	}
	ssize_t w = write(s->peer->fd, buf, (size_t)n);
	if (w < 0 && errno != EAGAIN) {
		pair_close(s);
		return;
	}
	if (w < n) {
		size_t rest = (size_t)(n - (w < 0 ? 0 : w));
		s->peer->pending = realloc(s->peer->pending, rest);
		memcpy(s->peer->pending, buf + (n - rest), rest);
		s->peer->pending_len = rest;
		side_events(s);
		side_events(s->peer);
	}
}

static void relay_writable(struct side *s)
{
	ssize_t w = write(s->fd, s->pending, s->pending_len);
	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR)
			pair_close(s);
		return;
	}
	memmove(s->pending, s->pending + w, s->pending_len - (size_t)w);
	s->pending_len -= (size_t)w;
	maybe_shut(s->peer);
	if (pair_done(s)) {
		pair_close(s);
		return;
	}
	side_events(s);
	side_events(s->peer);
}

static int cmd_relay(const char *addr, int port, const char *uphost, int upport)
{
	static char buf[BUF_SIZE];
	if (uphost) {
		struct sockaddr_storage ss;
		make_addr(uphost, upport, &ss);
		if (ss.ss_family != AF_INET) {
			fprintf(stderr, "loadgen relay: the upstream must be IPv4\n");
			return 2;
		}
		memcpy(&relay_upstream, &ss, sizeof(relay_upstream));
		relay_fixed = 1;
	}
	relay_ep = epoll_create1(0);
	struct side *l = calloc(1, sizeof(*l));
	l->fd = listen_on(addr, port);
	l->is_listener = 1;
	epoll_add(relay_ep, l->fd, EPOLLIN, l);
	printf("ready\n");
	fflush(stdout);
	struct epoll_event events[MAX_EVENTS];
	for (;;) {
		int n = epoll_wait(relay_ep, events, MAX_EVENTS, -1);
		if (n < 0 && errno == EINTR)
			continue;
		for (int i = 0; i < n; i++) {
			struct side *s = events[i].data.ptr;
			if (s->is_listener)
				relay_accept(s->fd);
			else if (s->closed)
				continue;
			else if (events[i].events & EPOLLOUT)
				relay_writable(s);
			else
				relay_readable(s, buf);
		}
		free_closed();
	}
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && strcmp(argv[1], "srv") == 0)
		return cmd_srv(argv[2], atoi(argv[3]));
	if (argc >= 4 && strcmp(argv[1], "relay") == 0)
		return cmd_relay(argv[2], atoi(argv[3]), argc >= 6 ? argv[4] : NULL, argc >= 6 ? atoi(argv[5]) : 0);
	if (argc >= 7 && strcmp(argv[1], "crr") == 0)
		return cmd_crr(argv[2], atoi(argv[3]), atof(argv[4]), strtoull(argv[5], NULL, 10), (size_t)atoi(argv[6]));
	if (argc >= 7 && strcmp(argv[1], "rr") == 0)
		return cmd_rr(argv[2], atoi(argv[3]), atof(argv[4]), strtoull(argv[5], NULL, 10), (size_t)atoi(argv[6]));
	if (argc >= 6 && strcmp(argv[1], "tput") == 0)
		return cmd_tput(argv[2], atoi(argv[3]), atof(argv[4]), (size_t)atoi(argv[5]));
	fprintf(stderr, "usage: loadgen srv ADDR PORT | relay ADDR PORT [UPHOST UPPORT] | crr|rr HOST PORT SECS MAXOPS SIZE | tput HOST PORT SECS CHUNK\n");
	return 2;
}
