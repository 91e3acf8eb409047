// peer.js is an AS2 peer made of npm libas2 0.8.2 (MIT, beta), for Wharf's
// interop tests. Run it with NODE_PATH pointing at a node_modules holding
// libas2 (see .ci/as2-peers.sh) and, on Node 20, the flag that re-allows
// RSA PKCS#1 v1.5 decryption:
//
//   node --security-revert=CVE-2023-46809 peer.js DIR
//
// DIR holds peer.key (PKCS#8 PEM), peer.crt and wharf.crt. It serves HTTP on
// 127.0.0.1 (a free port, printed as "LISTEN <port>"):
//   POST /as2   receives an AS2 message with libas2 (decrypt, verify) and
//               answers with libas2's signed MDN; headers X-Peer-Found and
//               X-Peer-Payload-SHA256 tell the test what it found.
//   POST /send?url=U&cipher=aes256-CBC|aes128-CBC|none&sign=1&id=MSGID
//               sends the body to Wharf at U as an AS2 message composed by
//               libas2, reads Wharf's MDN with libas2 (verifying its
//               signature with wharf.crt) and answers
//               "processed=true|false; mic=<base64>; signed=true|false".
'use strict'
const http = require('http')
const crypto = require('crypto')
const fs = require('fs')
const path = require('path')
const { AS2Parser, AS2Disposition, AS2Composer, request } = require('libas2')

const dir = process.argv[2]
const peerCert = fs.readFileSync(path.join(dir, 'peer.crt'), 'utf8')
const peerKey = fs.readFileSync(path.join(dir, 'peer.key'), 'utf8')
const wharfCert = fs.readFileSync(path.join(dir, 'wharf.crt'), 'utf8')

function readBody (req) {
  return new Promise((resolve, reject) => {
    const bufs = []
    req.on('data', b => bufs.push(b))
    req.on('end', () => resolve(Buffer.concat(bufs)))
    req.on('error', reject)
  })
}

async function receive (req, res) {
  const body = await readBody(req)
  const ctype = String(req.headers['content-type'] || '')
  const encrypted = ctype.startsWith('application/pkcs7-mime')
  const node = await AS2Parser.parse({ headers: req.rawHeaders, content: body })
  const agreement = {
    host: { name: 'LIBAS2', id: 'LIBAS2', url: 'http://127.0.0.1/as2', certificate: peerCert, privateKey: peerKey, decrypt: encrypted, sign: 'sha-256' },
    partner: { name: 'wharf', id: String(req.headers['as2-from'] || 'wharf'), url: 'http://127.0.0.1/as2', file: 'EDIX12', certificate: wharfCert, verify: true, mdn: { async: false, signing: 'sha-256' } }
  }
  // libas2 verifies only when the decrypted entity is multipart/signed.
  const found = []
  if (encrypted) found.push('decrypted')
  let signedNode = node
  if (encrypted) signedNode = await node.decrypt({ cert: peerCert, key: peerKey })
  agreement.partner.verify = String(signedNode.contentType || signedNode.getHeader('content-type') || '').startsWith('multipart/signed')
  agreement.host.decrypt = encrypted
  const { contentNode, dispositionNode, disposition } = await AS2Disposition.outgoing({ node, agreement })
  if (agreement.partner.verify && disposition.notification.disposition.processed) found.push('signature verified')
  const payload = contentNode && contentNode.content !== undefined ? Buffer.from(contentNode.content) : Buffer.alloc(0)
  const mdn = await dispositionNode.build()
  const sep = mdn.indexOf('\r\n\r\n')
  const headers = mdn.slice(0, sep).toString('latin1').replace(/\r\n[ \t]+/g, ' ').split('\r\n')
  for (const line of headers) {
    const i = line.indexOf(':')
    if (i > 0) res.setHeader(line.slice(0, i).trim(), line.slice(i + 1).trim())
  }
  res.setHeader('X-Peer-Found', found.join(', '))
  res.setHeader('X-Peer-Payload-SHA256', crypto.createHash('sha256').update(payload).digest('hex'))
  res.setHeader('X-Peer-Disposition', JSON.stringify(disposition.notification.disposition))
  res.end(mdn.slice(sep + 4))
}

async function send (req, res) {
  const body = await readBody(req)
  const q = new URL(req.url, 'http://x').searchParams
  const cipher = q.get('cipher') || 'aes256-CBC'
  const agreement = {
    host: { name: 'LIBAS2', id: 'LIBAS2', url: 'http://127.0.0.1/as2', certificate: peerCert, privateKey: peerKey, decrypt: true, sign: q.get('sign') === '1' ? 'sha-256' : false, mdn: { async: false, signing: 'sha-256' } },
    partner: { name: 'wharf', id: 'wharf', url: q.get('url'), file: 'EDIX12', certificate: wharfCert, encrypt: cipher === 'none' ? false : cipher, verify: true }
  }
  const composer = new AS2Composer({ message: { filename: 'libas2.edi', contentType: 'application/edi-x12', content: body }, agreement })
  const options = await composer.toRequestOptions()
  if (q.get('id')) options.headers['Message-ID'] = q.get('id')
  const response = await request(options)
  if (response.statusCode !== 200) throw new Error('Wharf answered HTTP ' + response.statusCode + ': ' + response.rawBody.toString())
  const mdnNode = await response.mime()
  const signed = String(mdnNode.contentType || '').startsWith('multipart/signed')
  const disposition = await AS2Disposition.incoming(mdnNode, signed ? { cert: wharfCert } : undefined)
  const n = disposition.notification
  const mic = n.receivedContentMic ? n.receivedContentMic.mic + ', ' + n.receivedContentMic.algorithm : 'none'
  res.end('processed=' + n.disposition.processed + '; mic=' + mic + '; signed=' + signed)
}

const server = http.createServer((req, res) => {
  const handler = req.url.startsWith('/send') ? send : receive
  handler(req, res).catch(err => {
    console.error(err && err.stack ? err.stack : err)
    res.statusCode = 500
    res.end('peer error: ' + (err && err.message))
  })
})
server.listen(0, '127.0.0.1', () => {
  console.log('LISTEN ' + server.address().port)
})
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
