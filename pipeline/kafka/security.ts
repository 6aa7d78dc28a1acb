// kafka.tls and kafka.sasl as kafkajs client options: every Kafka client pgcdc creates (pipeline
// processes, status topic, dead letters, replay, operator verbs) is built by createKafkajsFactory
// with these. Secrets are read here, from the configuration or the files it names; a token file
// (OAUTHBEARER) is read again at every authentication so an external refresher can rotate it.
import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import { readSecretFile } from '../config/secret-file.ts';
import type { KafkaSaslConfig, KafkaTlsConfig } from '../config/tls.ts';
import { tlsMaterial } from '../transport.ts';

export interface KafkaSecurity {
  ssl?: ConnectionOptions;
  sasl?: SASLOptions;
}

export function kafkaSecurity(kafka: {
  tls?: KafkaTlsConfig | undefined;
  sasl?: KafkaSaslConfig | undefined;
}): KafkaSecurity {
  const out: KafkaSecurity = {};
  if (kafka.tls) {
    const t = kafka.tls;
    out.ssl = {
      ...tlsMaterial(t, 'kafka.tls'),
      rejectUnauthorized: t.rejectUnauthorized,
      ...(t.servername ? { servername: t.servername } : {}),
    };
  }
  if (kafka.sasl) out.sasl = saslOptions(kafka.sasl);
  return out;
}

function saslOptions(s: KafkaSaslConfig): SASLOptions {
  switch (s.mechanism) {
    case 'plain':
    case 'scram-sha-256':
    case 'scram-sha-512': {
      const password = s.password ?? readSecretFile(s.passwordFile ?? '', 'kafka.sasl.passwordFile');
      return { mechanism: s.mechanism, username: s.username, password };
    }
    case 'oauthbearer': {
      const { token, tokenFile } = s;
      return {
        mechanism: 'oauthbearer',
        oauthBearerProvider: () =>
          Promise.resolve({ value: token ?? readSecretFile(tokenFile ?? '', 'kafka.sasl.tokenFile') }),
      };
    }
    default:
      return s satisfies never;
  }
}
