// Idempotency keys: one per attempt of an action that must happen once (a redemption, a relief
// draft's creation). The page keeps the key until the server has answered, so a retry after a
// network error sends the same key and the server acts once; a new attempt (a new bill, a changed
// draft) gets a new key.

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

function randomBytes(n) {
  const bytes = new Uint8Array(n)
  for (let i = 0; i < n; i += 1) bytes[i] = Math.floor(Math.random() * 256)
  return bytes
}

/** A fresh key: 32 hex characters, with the time first so keys sort by creation. */
function newKey() {
  const time = Date.now().toString(16).padStart(12, '0')
  return (time + hex(randomBytes(10))).slice(0, 32)
}

module.exports = {newKey}
