// A grpcurl-like reflection client for tests: lists a server's services and fetches the file
// descriptors of a symbol over grpc.reflection.v1, then builds a package definition from them
// alone, as grpcurl does, so a test can call a method knowing nothing but the server's answers.

import { Client, credentials, Metadata, type ServiceDefinition } from '@grpc/grpc-js';
import { loadFileDescriptorSetFromBuffer, loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { createRequire } from 'node:module';
import path from 'node:path';
import { LOADER_OPTIONS } from '../../src/api/grpc/protos.ts';

/** The parts of grpc.reflection.v1's messages these tests read. */
interface ReflectionResponse {
  readonly listServicesResponse?: { readonly service: readonly { readonly name: string }[] } | null;
  readonly fileDescriptorResponse?: { readonly fileDescriptorProto: readonly Buffer[] } | null;
  readonly errorResponse?: { readonly errorCode: number; readonly errorMessage: string } | null;
}

function reflectionDefinition(): ServiceDefinition {
  const pkgDir = path.dirname(createRequire(import.meta.url).resolve('@grpc/reflection'));
  const file = path.join(pkgDir, '..', 'proto', 'grpc', 'reflection', 'v1', 'reflection.proto');
  const definition = loadSync(file, { ...LOADER_OPTIONS, includeDirs: [] });
  return definition['grpc.reflection.v1.ServerReflection'] as ServiceDefinition;
}

/** One request on a fresh reflection stream; resolves with the single answer. */
async function ask(address: string, request: Record<string, string>): Promise<ReflectionResponse> {
  const method = reflectionDefinition()['ServerReflectionInfo']!;
  const client = new Client(address, credentials.createInsecure());
  try {
    return await new Promise<ReflectionResponse>((resolve, reject) => {
      const stream = client.makeBidiStreamRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize as (bytes: Buffer) => ReflectionResponse,
        new Metadata(),
        { deadline: Date.now() + 10_000 },
      );
      stream.on('data', (response: ReflectionResponse) => {
        resolve(response);
        stream.end();
      });
      stream.on('error', reject);
      stream.write(request);
    });
  } finally {
    client.close();
  }
}

export async function listServices(address: string): Promise<string[]> {
  const response = await ask(address, { listServices: '*' });
  return (response.listServicesResponse?.service ?? []).map((s) => s.name).sort();
}

/** The descriptors of the file defining `symbol` and everything it imports, as a package definition. */
export async function describe(address: string, symbol: string): Promise<PackageDefinition> {
  const response = await ask(address, { fileContainingSymbol: symbol });
  if (response.errorResponse) throw new Error(`reflection: ${response.errorResponse.errorMessage}`);
  const files = response.fileDescriptorResponse?.fileDescriptorProto ?? [];
  // A FileDescriptorSet is `repeated FileDescriptorProto file = 1`: each file as a length-delimited field 1.
  const set = Buffer.concat(files.flatMap((file) => [Buffer.from([0x0a]), varint(file.length), file]));
  return loadFileDescriptorSetFromBuffer(set, LOADER_OPTIONS);
}

/** A unary call made with nothing but a described definition (its (de)serialisers), like grpcurl. */
export async function callDescribed(
  address: string,
  definition: PackageDefinition,
  service: string,
  method: string,
  request: object,
): Promise<Record<string, unknown>> {
  const methods = definition[service] as ServiceDefinition | undefined;
  const found = methods?.[method];
  if (!found) throw new Error(`reflection did not describe ${service}/${method}`);
  const client = new Client(address, credentials.createInsecure());
  try {
    return await new Promise<Record<string, unknown>>((resolve, reject) => {
      client.makeUnaryRequest(
        found.path,
        found.requestSerialize,
        found.responseDeserialize as (bytes: Buffer) => Record<string, unknown>,
        request,
        { deadline: Date.now() + 10_000 },
        (err, value) => (err ? reject(err) : resolve(value ?? {})),
      );
    });
  } finally {
    client.close();
  }
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  let rest = n;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}
