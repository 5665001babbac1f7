import { METADATA_AUTO_CREATED_TOPICS_MAX } from '../../../../src/protocol/kafka/limits.js';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../../src/errors.js';
import { metadataHandler } from '../../../../src/protocol/kafka/handlers/metadata.js';
import { AUTHORIZED_OPERATIONS_OMITTED, TOPIC_OPERATIONS, CLUSTER_OPERATIONS } from '../../../../src/protocol/kafka/handlers/cluster-view.js';
import { ADVERTISED_HOST, ADVERTISED_PORT, useHarnesses, versionsOf } from './admin-harness.js';
import type { KafkaStruct } from '../../../../src/protocol/kafka/codec/message-codec.js';

const open = useHarnesses();

const named = (...names: string[]) => names.map((name) => ({ name }));
const topicsOf = (response: KafkaStruct) => response['topics'] as KafkaStruct[];
const namesOf = (response: KafkaStruct) => topicsOf(response).map((topic) => topic['name']);

describe('Metadata', () => {
  it('answers brokers, cluster id, controller and every topic (internal flagged) at every version', async () => {
    const h = await open();
    await h.broker.createTopic('orders', { partitions: 2 });
    await h.broker.createTopic('__internal');
    const topicId = Buffer.from(h.broker.describeTopic('orders').topicId, 'base64url');
    for (const version of versionsOf(metadataHandler)) {
      const all = version === 0 ? [] : null;
      const response = await h.call(metadataHandler, version, { topics: all });
      expect(response['brokers']).toEqual([{ nodeId: 1, host: ADVERTISED_HOST, port: ADVERTISED_PORT, rack: null }]);
      if (version >= 1) expect(response['controllerId']).toBe(1);
      if (version >= 2) expect(response['clusterId']).toBe(h.broker.clusterId);
      expect(namesOf(response).sort()).toEqual(['__internal', 'orders']);
      const orders = topicsOf(response).find((topic) => topic['name'] === 'orders')!;
      expect(orders['errorCode']).toBe(0);
      expect(orders['partitions']).toEqual([0, 1].map((partitionIndex) => ({
        errorCode: 0,
        partitionIndex,
        leaderId: 1,
        leaderEpoch: version >= 7 ? 0 : -1, // -1: the field's default where the version cannot carry it
        replicaNodes: [1],
        isrNodes: [1],
        offlineReplicas: [],
      })));
      if (version >= 1) expect(topicsOf(response).map((topic) => [topic['name'], topic['isInternal']]).sort()).toEqual([['__internal', true], ['orders', false]]);
      if (version >= 10) expect(orders['topicId']).toEqual(topicId);
      if (version >= 8) expect(orders['topicAuthorizedOperations']).toBe(AUTHORIZED_OPERATIONS_OMITTED);
    }
  });

  it('answers no topics for an empty list from v1', async () => {
    const h = await open();
    await h.broker.createTopic('orders');
    expect(topicsOf(await h.call(metadataHandler, 1, { topics: [] }))).toEqual([]);
    expect(topicsOf(await h.call(metadataHandler, 12, { topics: [] }))).toEqual([]);
  });

  it('auto-creates named topics when the request and the broker allow it, answering NONE with the partitions', async () => {
    const h = await open({ defaultPartitions: 3 });
    const v4 = await h.call(metadataHandler, 4, { topics: named('fresh', 'fresh'), allowAutoTopicCreation: true });
    expect(topicsOf(v4)).toHaveLength(1); // named twice, answered once
    expect(topicsOf(v4)[0]).toMatchObject({ errorCode: 0, name: 'fresh' });
    expect((topicsOf(v4)[0]!['partitions'] as unknown[]).length).toBe(3);
    expect(h.broker.describeTopic('fresh').partitions).toHaveLength(3);

    // v0-3 have no flag: Kafka always allowed auto-creation there.
    const v0 = await h.call(metadataHandler, 0, { topics: named('old-client') });
    expect(topicsOf(v0)[0]).toMatchObject({ errorCode: 0, name: 'old-client' });
  });

  it('auto-creates at most METADATA_AUTO_CREATED_TOPICS_MAX topics per request; the rest come with a later one', async () => {
    const h = await open();
    const names = Array.from({ length: METADATA_AUTO_CREATED_TOPICS_MAX + 5 }, (_, i) => `bulk-${i}`);
    const first = topicsOf(await h.call(metadataHandler, 12, { topics: named(...names), allowAutoTopicCreation: true }));
    expect(first.filter((topic) => topic['errorCode'] === 0)).toHaveLength(METADATA_AUTO_CREATED_TOPICS_MAX);
    expect(first.slice(METADATA_AUTO_CREATED_TOPICS_MAX).map((topic) => topic['errorCode'])).toEqual(Array(5).fill(ERROR_CODES.UNKNOWN_TOPIC_OR_PARTITION.code));
    const second = topicsOf(await h.call(metadataHandler, 12, { topics: named(...names), allowAutoTopicCreation: true }));
    expect(second.every((topic) => topic['errorCode'] === 0)).toBe(true);
    expect(h.broker.listTopics()).toHaveLength(names.length);
  });

  it('does not auto-create when the request says no (v4+), for internal names, or when auto.create.topics.enable is false', async () => {
    const h = await open();
    const internal = await h.call(metadataHandler, 12, { topics: named('__consumer_offsets'), allowAutoTopicCreation: true });
    expect(topicsOf(internal)[0]).toMatchObject({ errorCode: ERROR_CODES.UNKNOWN_TOPIC_OR_PARTITION.code, name: '__consumer_offsets' });
    const refused = await h.call(metadataHandler, 12, { topics: named('nope'), allowAutoTopicCreation: false });
    expect(topicsOf(refused)[0]).toMatchObject({ errorCode: ERROR_CODES.UNKNOWN_TOPIC_OR_PARTITION.code, name: 'nope', partitions: [] });
    expect(h.broker.listTopics()).toEqual([]);
    await h.close();

    const off = await open({ autoCreateTopics: false });
    for (const version of [0, 3, 4, 12]) {
      const response = await off.call(metadataHandler, version, { topics: named('nope'), allowAutoTopicCreation: true });
      expect(topicsOf(response)[0]).toMatchObject({ errorCode: ERROR_CODES.UNKNOWN_TOPIC_OR_PARTITION.code, name: 'nope' });
    }
    expect(off.broker.listTopics()).toEqual([]);
  });

  it('answers INVALID_TOPIC_EXCEPTION for an invalid name, with or without auto-creation', async () => {
    const h = await open();
    for (const allowAutoTopicCreation of [true, false]) {
      const response = await h.call(metadataHandler, 9, { topics: named('bad/name', 'a'.repeat(250)), allowAutoTopicCreation });
      expect(topicsOf(response).map((topic) => topic['errorCode'])).toEqual([ERROR_CODES.INVALID_TOPIC_EXCEPTION.code, ERROR_CODES.INVALID_TOPIC_EXCEPTION.code]);
    }
    expect(h.broker.listTopics()).toEqual([]);
  });

  it('looks topics up by id in v12; unknown ids are UNKNOWN_TOPIC_ID, earlier versions refuse id lookups', async () => {
    const h = await open();
    const created = await h.broker.createTopic('by-id');
    const topicId = Buffer.from(created.topicId, 'base64url');
    const unknownId = Buffer.alloc(16, 7);
    const response = await h.call(metadataHandler, 12, { topics: [{ name: null, topicId }, { name: null, topicId: unknownId }] });
    expect(topicsOf(response)[0]).toMatchObject({ errorCode: 0, name: 'by-id', topicId });
    expect(topicsOf(response)[1]).toMatchObject({ errorCode: ERROR_CODES.UNKNOWN_TOPIC_ID.code, name: null, topicId: unknownId, partitions: [] });

    const v10 = await h.call(metadataHandler, 10, { topics: [{ name: null, topicId }] });
    expect(topicsOf(v10)[0]).toMatchObject({ errorCode: ERROR_CODES.INVALID_REQUEST.code, name: '' });
  });

  it('fills the authorized operations bitfields only when asked', async () => {
    const h = await open();
    await h.broker.createTopic('ops');
    const asked = await h.call(metadataHandler, 10, { topics: named('ops'), includeTopicAuthorizedOperations: true, includeClusterAuthorizedOperations: true });
    expect(topicsOf(asked)[0]!['topicAuthorizedOperations']).toBe(TOPIC_OPERATIONS);
    expect(asked['clusterAuthorizedOperations']).toBe(CLUSTER_OPERATIONS);
    const notAsked = await h.call(metadataHandler, 10, { topics: named('ops') });
    expect(topicsOf(notAsked)[0]!['topicAuthorizedOperations']).toBe(AUTHORIZED_OPERATIONS_OMITTED);
    expect(notAsked['clusterAuthorizedOperations']).toBe(AUTHORIZED_OPERATIONS_OMITTED);
  });
});
