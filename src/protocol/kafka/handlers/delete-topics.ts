/**
 * DeleteTopics (key 20), versions 0-6: by name (TopicNames, v0-5) or by
 * name or id (Topics, v6). Deletion is synchronous, so TimeoutMs is never
 * reached. Per topic: UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID (v6),
 * INVALID_REQUEST when a v6 entry gives both a name and an id, and
 * TOPIC_AUTHORIZATION_FAILED for internal topics (those Metadata flags
 * IsInternal, like __consumer_offsets), which Kafka clients may not delete.
 */

import { FerryError } from '../../../errors.js';
import type { ApiHandler, RequestContext } from '../handler.js';
import { topicIdBytes, topicIdFromBytes, ZERO_UUID } from './cluster-view.js';
import { errorFields } from './error-fields.js';

interface DeleteTopicState {
  name: string | null;
  topicId: Buffer;
}

interface DeleteTopicsRequest {
  topics: DeleteTopicState[];
  topicNames: string[];
}

interface DeletableTopicResult {
  name: string | null;
  topicId: Buffer;
  errorCode: number;
  errorMessage: string | null;
}

/** v6 names topics by name or id (Topics); earlier versions by name only (TopicNames). */
const TOPIC_ID_VERSION = 6;

export const deleteTopicsHandler: ApiHandler = {
  apiKey: 20,
  versions: { min: 0, max: 6 },
  async handle(request, context) {
    const body = request as unknown as DeleteTopicsRequest;
    const targets = context.apiVersion >= TOPIC_ID_VERSION ? body.topics : body.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
    const responses: DeletableTopicResult[] = [];
    // One at a time, in the request's order: each deletion rewrites the metadata file.
    for (const target of targets) responses.push(await deleteOne(target, context));
    return { throttleTimeMs: 0, responses };
  },
};

async function deleteOne(target: DeleteTopicState, context: RequestContext): Promise<DeletableTopicResult> {
  const { broker } = context;
  const id = topicIdFromBytes(target.topicId);
  try {
    if (target.name !== null && id !== null) throw new FerryError('INVALID_REQUEST', `give a topic name or a topic id, not both (${target.name}, ${id})`);
    const name = target.name ?? broker.topicNameById(id ?? '');
    if (name === undefined) throw new FerryError('UNKNOWN_TOPIC_ID', `no topic has id ${id ?? 'zero'}`);
    const topic = broker.describeTopic(name);
    if (topic.internal) throw new FerryError('TOPIC_AUTHORIZATION_FAILED', `topic ${name} is internal and cannot be deleted through the Kafka protocol`);
    await broker.deleteTopic(name);
    return { name, topicId: topicIdBytes(topic.topicId), errorCode: 0, errorMessage: null };
  } catch (error) {
    return { name: target.name, topicId: target.topicId, ...errorFields(error, context.logger, `DeleteTopics ${target.name ?? id}`) };
  }
}
