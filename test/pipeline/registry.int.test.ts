// Several processes (producer, consumers) register the contract at once on a new topic: all get the
// same schema ids and the subjects end with compatibility BACKWARD.
import { expect, it } from 'vitest';
import { createEventCodec } from '../../schemas/codec.ts';
import { loadContract } from '../../schemas/contract.ts';
import { randomName, stackUrls } from '../support/index.ts';

it('concurrent registrations of a new subject agree and set BACKWARD', async () => {
  const { registryUrl } = stackUrls();
  const topic = randomName('regrace');
  const codecs = await Promise.all(
    Array.from({ length: 4 }, () => createEventCodec({ registryUrl, topic, contract: loadContract() })),
  );
  expect(new Set(codecs.map((c) => c.valueSchemaId)).size).toBe(1);
  expect(new Set(codecs.map((c) => c.keySchemaId)).size).toBe(1);
  for (const subject of [`${topic}-key`, `${topic}-value`]) {
    const res = await fetch(`${registryUrl}/config/${subject}`);
    const body = (await res.json()) as { compatibilityLevel: string };
    expect(body.compatibilityLevel).toBe('BACKWARD');
    await fetch(`${registryUrl}/subjects/${subject}`, { method: 'DELETE' });
  }
});
