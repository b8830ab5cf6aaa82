// The most bytes one Kafka connection held at once (request being collected, response being
// collected for topic-id learning, socket write buffers), since the process started or the last
// reset: the measure of "a large Produce passes without the proxy holding more than one frame".
// One compare per chunk; read by tests and the benchmark.
let peakBufferedBytes = 0;

export function recordBufferedBytes(bytes: number): void {
  if (bytes > peakBufferedBytes) peakBufferedBytes = bytes;
}

export function kafkaPeakBufferedBytes(): number {
  return peakBufferedBytes;
}

export function resetKafkaPeakBufferedBytes(): void {
  peakBufferedBytes = 0;
}
