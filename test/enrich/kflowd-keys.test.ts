// kflowd keys from enrichment: names, placement (ProcVersion after Proc, FileVersion after
// File/FileOrigin, Container* after ProcAge, FileMD5/FileSHA256 last), conditions (exec bit,
// flags, container present) and the empty/pending forms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addKflowdEnrichmentKeys } from '../../src/enrich/kflowd-keys.js';
import type { JObject } from '../../src/format/json.js';
import type { Envelope } from '../../src/pipeline/types.js';

function fileObj(withOrigin = false): JObject {
  const o: JObject = new Map();
  for (const k of ['InfoSequenceNumber', 'ProcParent', 'Proc', 'ProcUser', 'ProcAge', 'FilePath', 'File', ...(withOrigin ? ['FileOrigin'] : []), 'FileMode', 'FileSize']) o.set(k, k);
  return o;
}
const env = (mode: number, enrich: Record<string, unknown>): Envelope => ({ kind: 'file', rec: { type: 'file', mode }, enrich });
const C = { id: 'f'.repeat(64), shortId: 'ffffffffffff', runtime: 'podman', name: 'web', image: 'localhost/bb:1', metadata: 'done' };

test('all keys, in kflowd order', () => {
  const o = fileObj(true);
  addKflowdEnrichmentKeys(o, env(0o100755, {
    packages: { procVersion: '1:9.2p1-2+deb12u1', fileVersion: '0.9' },
    checksums: { state: 'done', md5: 'm', sha256: 's' },
    container: C,
  }), { versions: true, checksums: true, containers: true });
  assert.deepEqual([...o.keys()], ['InfoSequenceNumber', 'ProcParent', 'Proc', 'ProcVersion', 'ProcUser', 'ProcAge', 'ContainerId', 'ContainerName', 'ContainerImage',
    'FilePath', 'File', 'FileOrigin', 'FileVersion', 'FileMode', 'FileSize', 'FileMD5', 'FileSHA256']);
  assert.deepEqual([o.get('ProcVersion'), o.get('FileVersion'), o.get('ContainerId'), o.get('ContainerName'), o.get('ContainerImage'), o.get('FileMD5'), o.get('FileSHA256')],
    ['1:9.2p1-2+deb12u1', '0.9', 'ffffffffffff', 'web', 'localhost/bb:1', 'm', 's']);
});

test('conditions: no exec bit → no FileVersion/checksums; unknown → empty strings; pending marked; host → no container keys; flags off → nothing', () => {
  const plain = fileObj();
  addKflowdEnrichmentKeys(plain, env(0o100644, { packages: { procVersion: '7.88.1-10+deb12u14' }, checksums: { state: 'done', md5: 'm', sha256: 's' } }), { versions: true, checksums: true, containers: true });
  assert.deepEqual([...plain.keys()].filter((k) => !fileObj().has(k)), ['ProcVersion']);
  const unknown = fileObj();
  addKflowdEnrichmentKeys(unknown, env(0o100700, { packages: {}, checksums: { state: 'pending' } }), { versions: true, checksums: true });
  assert.deepEqual([unknown.get('ProcVersion'), unknown.get('FileVersion'), unknown.get('FileMD5'), unknown.get('FileSHA256'), unknown.get('FileChecksumState')], ['', '', '', '', 'pending']);
  const off = fileObj();
  addKflowdEnrichmentKeys(off, env(0o100755, { packages: { procVersion: 'x' }, checksums: { state: 'done', md5: 'm', sha256: 's' }, container: C }), {});
  assert.deepEqual([...off.keys()], [...fileObj().keys()]);
  // a symlink is not an executable file even with x bits
  const link = fileObj();
  addKflowdEnrichmentKeys(link, env(0o120777, {}), { versions: true, checksums: true });
  assert.equal(link.has('FileMD5') || link.has('FileVersion'), false);
});
