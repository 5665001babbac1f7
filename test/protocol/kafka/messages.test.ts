import { describe, expect, it } from 'vitest';
import { API_SPECS, REQUEST_HEADER, RESPONSE_HEADER } from '../../../src/protocol/kafka/generated/messages.js';
import { findApi } from '../../../src/protocol/kafka/apis.js';

describe('generated Kafka message table', () => {
  it('is sorted by API key with request/response pairs', () => {
    const keys = API_SPECS.map((a) => a.apiKey);
    expect(keys).toEqual([...keys].sort((a, b) => a - b));
    for (const api of API_SPECS) {
      expect(api.request.apiKey).toBe(api.apiKey);
      expect(api.response.apiKey).toBe(api.apiKey);
    }
  });

  it.each([
    [18, 'ApiVersions', 0, 4, 3],
    [0, 'Produce', 0, 11, 9],
    [1, 'Fetch', 0, 17, 12],
    [3, 'Metadata', 0, 12, 9],
  ])('key %i is %s v%i-%i, flexible from %i', (key, name, min, max, flexibleMin) => {
    const api = findApi(key)!;
    expect(api.name).toBe(name);
    expect(api.request.validVersions).toEqual({ min, max });
    expect(api.request.flexibleVersions?.min).toBe(flexibleMin);
  });

  it('keeps field details: tags, nullability, overrides', () => {
    const response = findApi(18)!.response;
    const features = response.fields.find((f) => f.name === 'SupportedFeatures')!;
    expect(features.tag).toBe(0);
    expect(features.key).toBe('supportedFeatures');
    expect(features.fields?.map((f) => f.name)).toEqual(['Name', 'MinVersion', 'MaxVersion']);
    const epoch = response.fields.find((f) => f.name === 'FinalizedFeaturesEpoch')!;
    expect(epoch.default).toBe(-1n);
    const clientId = REQUEST_HEADER.fields.find((f) => f.name === 'ClientId')!;
    expect(clientId.flexibleVersions).toBeNull();
    expect(RESPONSE_HEADER.validVersions).toEqual({ min: 0, max: 1 });
  });
});
