import { BpfLink } from './bpf-link.js';
import type { BpfMap } from './bpf-map.js';
import type { NativeProgram } from './native.js';

export interface BpfTestRunOptions {
  /** Packet data for packet programs (XDP, tc, socket filters: at least an Ethernet header). */
  dataIn?: Buffer;
  /** The program's context struct (e.g. struct __sk_buff), for types that accept one. */
  ctxIn?: Buffer;
  /** Runs the program this many times; durationNs is the mean. Default 1. */
  repeat?: number;
}

export interface BpfTestRunResult {
  retval: number;
  dataOut: Buffer;
  ctxOut?: Buffer;
  durationNs: number;
}

/**
 * A loaded program, owned by its BpfObject: the object's close() closes it too. Links made from
 * it hold the program in the kernel, so they stay attached after that.
 */
export class BpfProgram {
  readonly name: string;
  readonly sectionName: string;
  readonly id: number;
  readonly #native: NativeProgram;

  /** Not for direct use: programs come from BpfObject.program(). */
  constructor(native: NativeProgram) {
    const info = native.info();
    this.#native = native;
    this.name = info.name;
    this.sectionName = info.sectionName;
    this.id = info.id;
  }

  /** The program's fd while open, -1 after its object closed it. */
  get fd(): number {
    return this.#native.fd;
  }

  /**
   * A BPF link on the cgroup v2 directory `cgroupPath`, with the attach type libbpf derives from the
   * section (cgroup/connect4 → BPF_CGROUP_INET4_CONNECT, sockops → BPF_CGROUP_SOCK_OPS, …).
   * It applies to every process in that cgroup and its descendants.
   */
  attachCgroup(cgroupPath: string): BpfLink {
    return new BpfLink(this.#native.attachCgroup(cgroupPath));
  }

  /**
   * A tcx link (kernel 6.6+, BPF_TCX_INGRESS / BPF_TCX_EGRESS) of this `tc` program on the
   * network device `ifname` of the CALLER's network namespace (research/bpf.md gotcha 15). No
   * qdisc is needed; closing the last fd or pin of the link detaches it.
   */
  attachTcx(ifname: string, direction: 'ingress' | 'egress'): BpfLink {
    return new BpfLink(this.#native.attachTcx(ifname, direction === 'ingress'));
  }

  /** bpf_prog_attach(prog, map, BPF_SK_MSG_VERDICT) (or the program's sk_skb type): there is no link for this in libbpf 1.1. */
  attachSockMap(map: BpfMap): void {
    this.#native.attachSockMap(map.fd);
  }

  detachSockMap(map: BpfMap): void {
    this.#native.detachSockMap(map.fd);
  }

  /** BPF_PROG_TEST_RUN, for the program types the kernel can test-run (XDP, tc, socket filters, …). */
  testRun(o: BpfTestRunOptions): BpfTestRunResult {
    return this.#native.testRun(o.dataIn, o.ctxIn, o.repeat ?? 1);
  }

  /** Closes the program's fd (its object does this on close()); harmless when already closed. */
  close(): void {
    this.#native.close();
  }
}
