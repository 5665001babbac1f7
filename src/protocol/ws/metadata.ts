/**
 * The `metadata` answer (protocol.ts): the live brokers and each partition's
 * leader and leader epoch, so a client can open a socket to the broker that
 * leads what it produces to or reads from.
 *
 * Brokers come from the broker's ClusterView, leaders from its topic
 * descriptions. The HTTP port of another broker is known only as a leader's
 * endpoint (leaders.ts), so a broker that leads none of the listed partitions
 * has http_port null; the client needs the ports of leaders alone. This
 * broker is listed as the client reached it (the upgrade's Host header).
 */

import type { Broker, TopicDescription } from '../../broker/broker.js';
import { leaderEndpoint } from '../leaders.js';
import type { MetadataMessage, RequestId, WireBroker } from './protocol.js';

/** How the client reached this broker: the upgrade request's Host header, split. */
export interface SelfAddress {
  host: string;
  httpPort: number;
}

export function metadataMessage(broker: Broker, self: SelfAddress, id: RequestId | undefined, topicNames: readonly string[] | null): MetadataMessage {
  const topics = topicNames === null ? broker.listTopics() : topicNames.map((name) => broker.describeTopic(name));
  const httpPorts = new Map<number, number>([[broker.brokerId, self.httpPort]]);
  for (const topic of topics) learnLeaderPorts(broker, topic, httpPorts);
  const members = broker.cluster.brokers({ id: broker.brokerId, host: self.host, kafkaPort: 0, rack: null });
  const brokers: WireBroker[] = members.map((member) => ({ id: member.id, host: member.id === broker.brokerId ? self.host : member.host, http_port: httpPorts.get(member.id) ?? null }));
  const message: MetadataMessage = {
    type: 'metadata',
    brokers,
    topics: topics.map((topic) => ({ topic: topic.name, partitions: topic.partitions.map((p) => ({ partition: p.partition, leader: p.leader, leader_epoch: p.leaderEpoch })) })),
  };
  if (id !== undefined) message.id = id;
  return message;
}

/** One endpoint look-up per leader broker, not per partition. */
function learnLeaderPorts(broker: Broker, topic: TopicDescription, httpPorts: Map<number, number>): void {
  for (const partition of topic.partitions) {
    if (partition.leader < 0 || httpPorts.has(partition.leader)) continue;
    const endpoint = leaderEndpoint(broker, topic.name, partition.partition);
    if (endpoint !== null && endpoint !== 'self') httpPorts.set(endpoint.id, endpoint.httpPort);
  }
}

/** `host[:port]` of a Host header; the port defaults to 80 (ws://). Null when it is not a plain host. */
export function selfAddressOf(hostHeader: string): SelfAddress | null {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(hostHeader);
  if (!match) return null;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), httpPort: match[2] === undefined ? 80 : Number(match[2]) };
}
