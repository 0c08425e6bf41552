/**
 * The RabbitMQ the stack starts listens on loopback only: AMQP (whose guest/guest user is in the
 * docs), its Erlang distribution port and its port mapper (epmd), which would otherwise let
 * another machine reach the node.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';

const rabbitPid = inject('brokerPids').rabbitmq;
const control = inject('rabbitmqControl');

interface Listening {
  address: string;
  port: number;
  inode: string;
}

/** The listening TCP sockets of the machine (this network namespace), from /proc/net/tcp and tcp6. */
function listeningSockets(): Listening[] {
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((file) =>
    readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[3] === '0A') // LISTEN
      .map((fields) => {
        const [hex, port] = fields[1]!.split(':') as [string, string];
        return { address: addressOf(hex), port: parseInt(port, 16), inode: fields[9]! };
      }),
  );
}

/** /proc's hex address (each 32-bit word little-endian) as text. */
function addressOf(hex: string): string {
  const words = hex.match(/.{8}/g)!.map((word) => Buffer.from(word, 'hex').reverse());
  if (words.length === 1) return [...words[0]!].join('.');
  const bytes = Buffer.concat(words);
  return bytes.equals(Buffer.from('00000000000000000000000000000001', 'hex')) ? '::1' : bytes.toString('hex');
}

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    const target = (() => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return ''; // closed meanwhile
      }
    })();
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode) inodes.add(inode);
  }
  return inodes;
}

const LOOPBACK = ['127.0.0.1', '::1'];

describe.skipIf(!rabbitPid || !control || process.platform !== 'linux')(
  'the RabbitMQ the stack starts',
  () => {
    it('listens on loopback only: AMQP, Erlang distribution and its own epmd', () => {
      const sockets = listeningSockets();
      const broker = socketInodes(rabbitPid!);
      const brokers = sockets.filter((socket) => broker.has(socket.inode));
      // AMQP and the distribution port at least.
      expect(brokers.length).toBeGreaterThanOrEqual(2);
      const epmd = sockets.filter((socket) => socket.port === control!.epmdPort);
      expect(epmd.length).toBeGreaterThanOrEqual(1);
      for (const socket of [...brokers, ...epmd]) expect(LOOPBACK).toContain(socket.address);
    });
  },
);
