import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ifindexFromLinkShow, parseProcNetDev } from './links.js';

test('interface names are read from /proc/net/dev, past its two header lines', () => {
  const text = [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
    '    lo:  123 4 0 0 0 0 0 0  123 4 0 0 0 0 0 0',
    'mshd0123456789a:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0',
    '  eth0: 1 2 3',
  ].join('\n');
  assert.deepEqual([...parseProcNetDev(text)], ['lo', 'mshd0123456789a', 'eth0']);
});

test('the ifindex of a link is read from `ip link show` output, veth peers included', () => {
  const output = [
    '13: mshd5aa95ef2f43@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000',
    '    link/ether 02:9a:1b:2c:3d:4e brd ff:ff:ff:ff:ff:ff link-netns meshdt1-a',
    '    alias meshdt1-a',
  ].join('\n');
  assert.equal(ifindexFromLinkShow(output, 'mshd5aa95ef2f43'), 13);
  assert.equal(ifindexFromLinkShow('4: eth0: <BROADCAST> mtu 1400', 'eth0'), 4);
  assert.equal(ifindexFromLinkShow(output, 'mshd5aa95ef2f4'), undefined);
});
