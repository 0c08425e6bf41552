/**
 * A local RabbitMQ node for `npm run dev` and the tests, without Docker: the machine's
 * `rabbitmq-server` (Debian: `apt-get install rabbitmq-server`; macOS: `brew install rabbitmq`)
 * started as a child with its own node name, ports and data folder, no plugins. Used only when
 * `EVENT_SINKS` names amqp and `AMQP_URL` is unset. Everything it listens on is loopback: AMQP,
 * the Erlang distribution port, and an Erlang port mapper (`epmd`) of its own, started and stopped
 * with it (the machine's shared one on 4369 usually listens on every interface and outlives it).
 * The `guest` user it comes with is refused from anywhere but loopback (RabbitMQ's default).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startChildServer } from './child-server.js';
import type { Running } from './supervisor.js';

/** What `rabbitmqctl` needs to reach the node: its name, the HOME holding its cookie, its epmd. */
export interface RabbitMqControl {
  ctl: string;
  node: string;
  home: string;
  epmdPort: number;
}

/**
 * Runs `rabbitmqctl` against the node, e.g. `stop_app` (the broker goes down, the Erlang node
 * stays) and `start_app` (it comes back with its durable queues and messages).
 */
export function rabbitmqctl(control: RabbitMqControl, ...args: string[]): string {
  const result = spawnSync(control.ctl, ['-n', control.node, ...args], {
    env: { ...process.env, HOME: control.home, ERL_EPMD_PORT: String(control.epmdPort) },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.status !== 0)
    throw new Error(
      `rabbitmqctl ${args.join(' ')} failed: ${result.stderr || result.stdout || result.error?.message}`,
    );
  return result.stdout;
}

export interface RabbitMqOptions {
  port: number;
  /** Erlang distribution port (the CLI tools talk to the node through it). */
  distPort: number;
  /** Port of the node's own epmd, where the CLI tools look the node up. */
  epmdPort: number;
  /** Node data and logs; kept between starts, so durable queues and messages survive a restart. */
  dataDir: string;
  log?: (line: string) => void;
}

/** Debian's /usr/sbin wrapper switches to the rabbitmq user, who cannot write our folders. */
const DEBIAN_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';

/** The server script to run, or undefined when none is installed. */
export function findRabbitMqServer(): string | undefined {
  const explicit = process.env.RABBITMQ_SERVER;
  if (explicit) return explicit;
  try {
    accessSync(DEBIAN_SERVER, constants.X_OK);
    return DEBIAN_SERVER;
  } catch {
    const which = spawnSync('sh', ['-c', 'command -v rabbitmq-server'], { encoding: 'utf8' });
    return which.status === 0 ? which.stdout.trim() : undefined;
  }
}

export const RABBITMQ_HOW_TO_GET =
  'rabbitmq-server (Debian/Ubuntu: apt-get install rabbitmq-server; macOS: brew install rabbitmq), or set AMQP_URL';

export interface RabbitMqNode extends Running {
  /** What AMQP_URL takes (the guest user, which RabbitMQ admits on loopback only). */
  url: string;
  control: RabbitMqControl;
  /** The node's own epmd, for checks on what it listens on. */
  epmdPid: number | undefined;
}

const LOOPBACK = '127.0.0.1';

export async function startRabbitMq(options: RabbitMqOptions): Promise<RabbitMqNode> {
  const log = options.log ?? (() => undefined);
  const server = findRabbitMqServer();
  if (!server) throw new Error(`cannot run RabbitMQ here: it needs ${RABBITMQ_HOW_TO_GET}`);
  mkdirSync(options.dataDir, { recursive: true });
  const node = `paysaga-${options.port}@localhost`;
  const pluginsFile = path.join(options.dataDir, 'enabled_plugins');
  writeFileSync(pluginsFile, '[].\n');
  // In the foreground, so it stops with the broker; `-d` prints the line that says it is up.
  const epmd = await startChildServer({
    name: 'epmd',
    command: 'epmd',
    args: ['-d', '-address', LOOPBACK, '-port', String(options.epmdPort)],
    ready: /epmd running/,
    notable: /error|cannot|failed/i,
    log,
  });
  try {
    const running = await startChildServer({
      name: 'rabbitmq-server',
      command: server,
      args: [],
      env: {
        ...process.env,
        // The Erlang cookie lands in HOME: keep it with the node's data.
        HOME: options.dataDir,
        RABBITMQ_NODENAME: node,
        RABBITMQ_NODE_IP_ADDRESS: LOOPBACK,
        RABBITMQ_NODE_PORT: String(options.port),
        RABBITMQ_DIST_PORT: String(options.distPort),
        ERL_EPMD_PORT: String(options.epmdPort),
        ERL_EPMD_ADDRESS: LOOPBACK,
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
        RABBITMQ_MNESIA_BASE: path.join(options.dataDir, 'mnesia'),
        RABBITMQ_LOG_BASE: path.join(options.dataDir, 'log'),
        RABBITMQ_ENABLED_PLUGINS_FILE: pluginsFile,
        RABBITMQ_PID_FILE: path.join(options.dataDir, 'rabbitmq.pid'),
        RABBITMQ_LOGS: '-',
        // The script then execs the Erlang VM instead of running it behind a shell: the child is
        // the broker itself, so a signal (a stop, a test's kill -9) reaches it and nothing lingers.
        RUNNING_UNDER_SYSTEMD: 'true',
      },
      ready: /Server startup complete/,
      notable: /\[(warning|error)\]/,
      log,
      stopGraceMs: 15_000,
    });
    // However the broker ends (a stop, a crash), its epmd goes with it: a restart starts both.
    void running.exited.then(() => epmd.stop());
    return {
      url: `amqp://guest:guest@${LOOPBACK}:${options.port}`,
      control: {
        ctl: path.join(path.dirname(server), 'rabbitmqctl'),
        node,
        home: options.dataDir,
        epmdPort: options.epmdPort,
      },
      epmdPid: epmd.pid,
      ...running,
      stop: async () => {
        await running.stop();
        await epmd.stop();
      },
    };
  } catch (error) {
    await epmd.stop();
    throw error;
  }
}
