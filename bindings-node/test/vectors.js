'use strict'
// The vector files the tests read: conformance/vectors (their one home) and XNONCE_EXTRA_VECTORS.

const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..', '..')
const VECTORS_DIR = path.join(ROOT, 'conformance', 'vectors')

/** Every vector file: conformance/vectors/*.json (sorted) plus XNONCE_EXTRA_VECTORS. */
function vectorFiles() {
  const files = fs
    .readdirSync(VECTORS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(VECTORS_DIR, f))
  for (const extra of (process.env.XNONCE_EXTRA_VECTORS ?? '').split(':')) {
    if (extra !== '') files.push(path.resolve(extra))
  }
  return files
}

/** The cases of one vector file; a file that is not JSON, or not an array, is an Error naming it. */
function loadFile(file) {
  let cases
  try {
    cases = JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (e) {
    throw new Error(`vector file ${file}: ${e.message}`)
  }
  if (!Array.isArray(cases)) throw new Error(`vector file ${file}: not a JSON array of cases`)
  return cases
}

/** [{ file, case }] for every case of every vector file. */
function loadVectors() {
  return vectorFiles().flatMap((file) => loadFile(file).map((v) => ({ file: path.basename(file), v })))
}

module.exports = { ROOT, loadFile, loadVectors, vectorFiles }
