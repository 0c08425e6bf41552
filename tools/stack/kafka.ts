/**
 * A real single-node Apache Kafka (KRaft: broker and controller in one JVM) for `npm run dev`
 * and the tests, without Docker: the broker's jars come from Maven Central once, into the
 * git-ignored `.brokers/` folder, and run under the machine's Java 17+. Used only when
 * `EVENT_SINKS` names kafka and `KAFKA_BROKERS` is unset.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/project-root.js';
import { startChildServer } from './child-server.js';
import type { Running } from './supervisor.js';

/** Within the range @platformatic/kafka is tested against (3.5 to 4.2). */
export const KAFKA_VERSION = '4.1.1';
const SLF4J_VERSION = '1.7.36';
const BROKERS_ROOT = path.join(PROJECT_ROOT, '.brokers');

export interface KafkaBroker extends Running {
  /** `host:port`, what KAFKA_BROKERS takes. */
  brokers: string;
}

export interface KafkaOptions {
  port: number;
  controllerPort: number;
  /** Log directory; formatted when empty, kept otherwise (a restart keeps the topics). */
  dataDir: string;
  log?: (line: string) => void;
}

/** What is missing to run Kafka here, or undefined when Java and Maven (or the jars) are present. */
export function kafkaMissing(): string | undefined {
  if (!hasCommand('java', ['-version'])) return 'Java 17+ (apt-get install openjdk-17-jre-headless)';
  if (!existsSync(libsDir()) && !hasCommand('mvn', ['-v']))
    return 'Maven, to fetch the Kafka jars once (apt-get install maven)';
  return undefined;
}

export async function startKafka(options: KafkaOptions): Promise<KafkaBroker> {
  const log = options.log ?? (() => undefined);
  const libs = ensureKafkaJars(log);
  const config = path.join(options.dataDir, 'server.properties');
  const logDir = path.join(options.dataDir, 'log');
  mkdirSync(options.dataDir, { recursive: true });
  const brokers = `127.0.0.1:${options.port}`;
  writeFileSync(
    config,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${options.controllerPort}`,
      `listeners=PLAINTEXT://${brokers},CONTROLLER://127.0.0.1:${options.controllerPort}`,
      `advertised.listeners=PLAINTEXT://${brokers}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${logDir}`,
      'num.partitions=3',
      'offsets.topic.replication.factor=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      '',
    ].join('\n'),
  );
  const classpath = `${libs}/*`;
  if (!existsSync(path.join(logDir, 'meta.properties'))) {
    const clusterId = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
    const format = spawnSync(
      'java',
      // `=`: a base64url id may start with '-', which a separate argument would make an option.
      ['-cp', classpath, 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '-c', config],
      { encoding: 'utf8' },
    );
    if (format.status !== 0)
      throw new Error(
        `kafka storage format failed: ${format.stderr || format.stdout || format.error?.message}`,
      );
  }

  const running = await startChildServer({
    name: 'kafka',
    command: 'java',
    args: ['-Xmx384m', '-Xms384m', '-cp', classpath, 'kafka.Kafka', config],
    ready: /Kafka Server started|Transition from STARTING to STARTED/,
    notable: /WARN|ERROR/,
    log,
  });
  return { brokers, ...running };
}

function libsDir(): string {
  return path.join(BROKERS_ROOT, `kafka-${KAFKA_VERSION}`, 'libs');
}

/** Downloads the broker's jars (kafka_2.13 and an SLF4J binding) once; returns their folder. */
export function ensureKafkaJars(log: (line: string) => void = () => undefined): string {
  const libs = libsDir();
  if (existsSync(libs) && readdirSync(libs).some((name) => name.startsWith('kafka_2.13'))) return libs;
  const missing = kafkaMissing();
  if (missing) throw new Error(`cannot run Kafka here: it needs ${missing}; or set KAFKA_BROKERS`);
  const root = path.dirname(libs);
  mkdirSync(root, { recursive: true });
  writeFileSync(
    path.join(root, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.paysaga</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>${SLF4J_VERSION}</version></dependency>
  </dependencies>
</project>
`,
  );
  log(`fetching Apache Kafka ${KAFKA_VERSION} jars from Maven Central into ${root} (once)`);
  const partial = `${libs}.partial`;
  rmSync(partial, { recursive: true, force: true });
  const mvn = spawnSync(
    'mvn',
    ['-q', '-B', 'dependency:copy-dependencies', `-DoutputDirectory=${partial}`, '-DincludeScope=runtime'],
    { cwd: root, encoding: 'utf8' },
  );
  if (mvn.status !== 0) throw new Error(`fetching the Kafka jars failed:\n${mvn.stdout}${mvn.stderr}`);
  rmSync(libs, { recursive: true, force: true });
  // Renamed only once complete, so an interrupted download is never taken for the jars.
  renameSync(partial, libs);
  return libs;
}

function hasCommand(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}
