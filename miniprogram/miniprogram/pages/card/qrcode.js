// The card's QR code, drawn on the phone from the token the page holds.
//
// Why not `GET /me/card/qr?format=png`: every request to that route signs a NEW code (its OpenAPI
// description says so), so its image would carry another token than the one the page keeps in
// data.qrToken and refreshes on the JSON's `refresh_in`. Drawing the held token here keeps the
// image, the timer and what the cashier scans the same code.
//
// A plain QR encoder (ISO/IEC 18004, model 2) at error correction level M: alphanumeric mode when
// the text allows it (the token is upper-case base32, so it always does), else bytes (UTF-8); the
// mask with the lowest penalty. `matrix(text)` gives rows of booleans (true = dark);
// `dataUrl(text)` a PNG as a data: URL for <image src>, with the 4-module quiet zone.

// Level M, per version: [blocks, total codewords, data codewords] (one or two groups).
const RS_M = [
  [1, 26, 16], [1, 44, 28], [1, 70, 44], [2, 50, 32], [2, 67, 43], [4, 43, 27], [4, 49, 31],
  [2, 60, 38, 2, 61, 39], [3, 58, 36, 2, 59, 37], [4, 69, 43, 1, 70, 44], [1, 80, 50, 4, 81, 51],
  [6, 58, 36, 2, 59, 37], [8, 59, 37, 1, 60, 38], [4, 64, 40, 5, 65, 41], [5, 65, 41, 5, 66, 42],
  [7, 73, 45, 3, 74, 46], [10, 74, 46, 1, 75, 47], [9, 69, 43, 4, 70, 44], [3, 70, 44, 11, 71, 45],
  [3, 67, 41, 13, 68, 42], [17, 68, 42], [17, 74, 46], [4, 75, 47, 14, 76, 48], [6, 73, 45, 14, 74, 46],
  [8, 75, 47, 13, 76, 48], [19, 74, 46, 4, 75, 47], [22, 73, 45, 3, 74, 46], [3, 73, 45, 23, 74, 46],
  [21, 73, 45, 7, 74, 46], [19, 75, 47, 10, 76, 48], [2, 74, 46, 29, 75, 47], [10, 74, 46, 23, 75, 47],
  [14, 74, 46, 21, 75, 47], [14, 74, 46, 23, 75, 47], [12, 75, 47, 26, 76, 48], [6, 75, 47, 34, 76, 48],
  [29, 74, 46, 14, 75, 47], [13, 74, 46, 32, 75, 47], [40, 75, 47, 7, 76, 48], [18, 75, 47, 31, 76, 48],
]

// Centres of the alignment patterns, per version.
const ALIGN = [
  [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50],
  [6, 30, 54], [6, 32, 58], [6, 34, 62], [6, 26, 46, 66], [6, 26, 48, 70], [6, 26, 50, 74], [6, 30, 54, 78],
  [6, 30, 56, 82], [6, 30, 58, 86], [6, 34, 62, 90], [6, 28, 50, 72, 94], [6, 26, 50, 74, 98],
  [6, 30, 54, 78, 102], [6, 28, 54, 80, 106], [6, 32, 58, 84, 110], [6, 30, 58, 86, 114],
  [6, 34, 62, 90, 118], [6, 26, 50, 74, 98, 122], [6, 30, 54, 78, 102, 126], [6, 26, 52, 78, 104, 130],
  [6, 30, 56, 82, 108, 134], [6, 34, 60, 86, 112, 138], [6, 30, 58, 86, 114, 142], [6, 34, 62, 90, 118, 146],
  [6, 30, 54, 78, 102, 126, 150], [6, 24, 50, 76, 102, 128, 154], [6, 28, 54, 80, 106, 132, 158],
  [6, 32, 58, 84, 110, 136, 162], [6, 26, 54, 82, 110, 138, 166], [6, 30, 58, 86, 114, 142, 170],
]

const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:'
const LEVEL_M = 0 // the format bits of level M

// GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1.
const EXP = new Array(512)
const LOG = new Array(256)
;(function tables() {
  let x = 1
  for (let i = 0; i < 255; i += 1) {
    EXP[i] = x
    LOG[x] = i
    x <<= 1
    if (x & 0x100) x ^= 0x11d
  }
  for (let i = 255; i < 512; i += 1) EXP[i] = EXP[i - 255]
})()

function gfMul(a, b) {
  return a && b ? EXP[LOG[a] + LOG[b]] : 0
}

function generator(degree) {
  let poly = [1]
  for (let i = 0; i < degree; i += 1) {
    const next = new Array(poly.length + 1).fill(0)
    for (let j = 0; j < poly.length; j += 1) {
      next[j] ^= poly[j]
      next[j + 1] ^= gfMul(poly[j], EXP[i])
    }
    poly = next
  }
  return poly
}

/** The Reed-Solomon error correction codewords of one block. */
function eccOf(data, degree) {
  const gen = generator(degree)
  const rest = data.concat(new Array(degree).fill(0))
  for (let i = 0; i < data.length; i += 1) {
    const coef = rest[i]
    if (coef) for (let j = 0; j < gen.length; j += 1) rest[i + j] ^= gfMul(gen[j], coef)
  }
  return rest.slice(data.length)
}

function blocksOf(version) {
  const row = RS_M[version - 1]
  const blocks = []
  for (let g = 0; g < row.length; g += 3) {
    for (let n = 0; n < row[g]; n += 1) blocks.push({total: row[g + 1], data: row[g + 2]})
  }
  return blocks
}

function capacity(version) {
  return blocksOf(version).reduce((sum, b) => sum + b.data, 0)
}

function utf8(text) {
  const out = []
  for (const ch of text) {
    let c = ch.codePointAt(0)
    if (c < 0x80) out.push(c)
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63))
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
  }
  return out
}

/** The segment: mode, its payload, how many bits the payload takes. */
function segment(text) {
  const alnum = Array.from(text).every((ch) => ALNUM.indexOf(ch) >= 0)
  if (alnum) return {alnum: true, count: text.length, bits: 11 * Math.floor(text.length / 2) + 6 * (text.length % 2)}
  const bytes = utf8(text)
  return {alnum: false, bytes, count: bytes.length, bits: 8 * bytes.length}
}

function countBits(seg, version) {
  if (seg.alnum) return version < 10 ? 9 : version < 27 ? 11 : 13
  return version < 10 ? 8 : 16
}

/** The data and error correction codewords, interleaved, for `text` at the smallest version. */
function codewords(text) {
  const seg = segment(text)
  let version = 1
  while (version <= 40 && 4 + countBits(seg, version) + seg.bits > capacity(version) * 8) version += 1
  if (version > 40) throw new Error('text too long for a QR code')
  const bits = []
  const put = (value, n) => {
    for (let i = n - 1; i >= 0; i -= 1) bits.push((value >>> i) & 1)
  }
  put(seg.alnum ? 2 : 4, 4)
  put(seg.count, countBits(seg, version))
  if (seg.alnum) {
    for (let i = 0; i + 1 < text.length; i += 2) put(ALNUM.indexOf(text[i]) * 45 + ALNUM.indexOf(text[i + 1]), 11)
    if (text.length % 2) put(ALNUM.indexOf(text[text.length - 1]), 6)
  } else {
    seg.bytes.forEach((b) => put(b, 8))
  }
  const total = capacity(version) * 8
  put(0, Math.min(4, total - bits.length))
  while (bits.length % 8) bits.push(0)
  const data = []
  for (let i = 0; i < bits.length; i += 8) data.push(parseInt(bits.slice(i, i + 8).join(''), 2))
  for (let pad = 0; data.length < total / 8; pad += 1) data.push(pad % 2 ? 0x11 : 0xec)

  const blocks = []
  let offset = 0
  blocksOf(version).forEach((b) => {
    const part = data.slice(offset, offset + b.data)
    offset += b.data
    blocks.push({data: part, ecc: eccOf(part, b.total - b.data)})
  })
  const out = []
  const most = Math.max(...blocks.map((b) => b.data.length))
  for (let i = 0; i < most; i += 1) blocks.forEach((b) => i < b.data.length && out.push(b.data[i]))
  for (let i = 0; i < blocks[0].ecc.length; i += 1) blocks.forEach((b) => out.push(b.ecc[i]))
  return {version, data: out}
}

function bch(value, poly, shift) {
  const digits = (n) => (n ? 32 - Math.clz32(n) : 0)
  let d = value << shift
  while (digits(d) - digits(poly) >= 0) d ^= poly << (digits(d) - digits(poly))
  return (value << shift) | d
}

const MASKS = [
  (i, j) => (i + j) % 2 === 0,
  (i) => i % 2 === 0,
  (i, j) => j % 3 === 0,
  (i, j) => (i + j) % 3 === 0,
  (i, j) => (Math.floor(i / 2) + Math.floor(j / 3)) % 2 === 0,
  (i, j) => ((i * j) % 2) + ((i * j) % 3) === 0,
  (i, j) => (((i * j) % 2) + ((i * j) % 3)) % 2 === 0,
  (i, j) => (((i * j) % 3) + ((i + j) % 2)) % 2 === 0,
]

function build(version, data, mask) {
  const size = version * 4 + 17
  const m = Array.from({length: size}, () => new Array(size).fill(null))

  const finder = (row, col) => {
    for (let r = -1; r <= 7; r += 1) {
      for (let c = -1; c <= 7; c += 1) {
        if (row + r < 0 || row + r >= size || col + c < 0 || col + c >= size) continue
        m[row + r][col + c] =
          (r >= 0 && r <= 6 && (c === 0 || c === 6)) ||
          (c >= 0 && c <= 6 && (r === 0 || r === 6)) ||
          (r >= 2 && r <= 4 && c >= 2 && c <= 4)
      }
    }
  }
  finder(0, 0)
  finder(size - 7, 0)
  finder(0, size - 7)

  const centres = ALIGN[version - 1]
  centres.forEach((row) =>
    centres.forEach((col) => {
      if (m[row][col] !== null) return
      for (let r = -2; r <= 2; r += 1) {
        for (let c = -2; c <= 2; c += 1) {
          m[row + r][col + c] = Math.abs(r) === 2 || Math.abs(c) === 2 || (r === 0 && c === 0)
        }
      }
    })
  )

  for (let i = 8; i < size - 8; i += 1) {
    if (m[i][6] === null) m[i][6] = i % 2 === 0
    if (m[6][i] === null) m[6][i] = i % 2 === 0
  }

  // Format information (level and mask), twice.
  const format = bch((LEVEL_M << 3) | mask, 0x537, 10) ^ 0x5412
  for (let i = 0; i < 15; i += 1) {
    const bit = ((format >> i) & 1) === 1
    if (i < 6) m[i][8] = bit
    else if (i < 8) m[i + 1][8] = bit
    else m[size - 15 + i][8] = bit
    if (i < 8) m[8][size - i - 1] = bit
    else if (i < 9) m[8][15 - i] = bit
    else m[8][15 - i - 1] = bit
  }
  m[size - 8][8] = true

  if (version >= 7) {
    const info = bch(version, 0x1f25, 12)
    for (let i = 0; i < 18; i += 1) {
      const bit = ((info >> i) & 1) === 1
      m[Math.floor(i / 3)][(i % 3) + size - 11] = bit
      m[(i % 3) + size - 11][Math.floor(i / 3)] = bit
    }
  }

  // The codewords, two columns at a time, up and down from the bottom right.
  const masked = MASKS[mask]
  let row = size - 1
  let step = -1
  let byte = 0
  let bit = 7
  for (let col = size - 1; col > 0; col -= 2) {
    if (col === 6) col -= 1
    for (;;) {
      for (const c of [col, col - 1]) {
        if (m[row][c] !== null) continue
        let dark = byte < data.length && ((data[byte] >> bit) & 1) === 1
        if (masked(row, c)) dark = !dark
        m[row][c] = dark
        bit -= 1
        if (bit < 0) {
          byte += 1
          bit = 7
        }
      }
      row += step
      if (row < 0 || row >= size) {
        row -= step
        step = -step
        break
      }
    }
  }
  return m
}

/** ISO/IEC 18004's penalty of a finished symbol (lower scans more reliably). */
function penalty(m) {
  const size = m.length
  let score = 0
  const lines = []
  for (let i = 0; i < size; i += 1) {
    lines.push(m[i])
    lines.push(m.map((r) => r[i]))
  }
  lines.forEach((line) => {
    let run = 1
    for (let k = 1; k <= size; k += 1) {
      if (k < size && line[k] === line[k - 1]) {
        run += 1
      } else {
        if (run >= 5) score += run - 2
        run = 1
      }
    }
    for (let k = 0; k + 10 < size; k += 1) {
      const core = line[k + 4] && !line[k + 5] && line[k + 6] && !line[k + 1] && !line[k + 9]
      if (!core) continue
      const a = line[k] && line[k + 2] && line[k + 3] && !line[k + 7] && !line[k + 8] && !line[k + 10]
      const b = !line[k] && !line[k + 2] && !line[k + 3] && line[k + 7] && line[k + 8] && line[k + 10]
      if (a || b) score += 40
    }
  })
  let dark = 0
  for (let r = 0; r < size; r += 1) {
    for (let c = 0; c < size; c += 1) {
      if (m[r][c]) dark += 1
      if (r + 1 < size && c + 1 < size && m[r][c] === m[r][c + 1] && m[r][c] === m[r + 1][c] && m[r][c] === m[r + 1][c + 1]) {
        score += 3
      }
    }
  }
  score += Math.floor(Math.abs((dark * 100) / (size * size) - 50) / 5) * 10
  return score
}

/** The QR symbol for `text` as rows of booleans (true = dark), without the quiet zone. */
function matrix(text, mask = null) {
  const {version, data} = codewords(String(text))
  if (mask !== null) return build(version, data, mask)
  let best = null
  let bestScore = Infinity
  for (let k = 0; k < 8; k += 1) {
    const candidate = build(version, data, k)
    const score = penalty(candidate)
    if (score < bestScore) {
      best = candidate
      bestScore = score
    }
  }
  return best
}

// --- PNG (1-bit greyscale, stored deflate blocks: no compression library needed) ---

const CRC_TABLE = (() => {
  const table = new Array(256)
  for (let n = 0; n < 256; n += 1) {
    let c = n
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

function crc32(bytes, start, end) {
  let c = 0xffffffff
  for (let i = start; i < end; i += 1) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function u32(out, value) {
  out.push((value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff)
}

function chunk(out, type, body) {
  u32(out, body.length)
  const start = out.length
  for (let i = 0; i < 4; i += 1) out.push(type.charCodeAt(i))
  for (let i = 0; i < body.length; i += 1) out.push(body[i])
  u32(out, crc32(out, start, out.length))
}

function zlibStored(raw) {
  const out = [0x78, 0x01]
  for (let pos = 0; pos < raw.length || pos === 0; pos += 65535) {
    const len = Math.min(65535, raw.length - pos)
    const last = pos + len >= raw.length ? 1 : 0
    out.push(last, len & 0xff, len >> 8, ~len & 0xff, (~len >> 8) & 0xff)
    for (let i = 0; i < len; i += 1) out.push(raw[pos + i])
    if (len === 0) break
  }
  let a = 1
  let b = 0
  for (let i = 0; i < raw.length; i += 1) {
    a = (a + raw[i]) % 65521
    b = (b + a) % 65521
  }
  u32(out, ((b << 16) | a) >>> 0)
  return out
}

/** A PNG of the symbol: `scale` pixels per module, 4 light modules of quiet zone all round. */
function png(m, scale = 8) {
  const modules = m.length + 8
  const width = modules * scale
  const rowBytes = Math.ceil(width / 8)
  const raw = []
  for (let y = 0; y < width; y += 1) {
    raw.push(0) // filter: none
    const r = Math.floor(y / scale) - 4
    for (let xb = 0; xb < rowBytes; xb += 1) {
      let byte = 0
      for (let bit = 0; bit < 8; bit += 1) {
        const x = xb * 8 + bit
        const c = Math.floor(x / scale) - 4
        const dark = x < width && r >= 0 && r < m.length && c >= 0 && c < m.length && m[r][c]
        if (!dark) byte |= 0x80 >> bit // 1 = white in 1-bit greyscale
      }
      raw.push(byte)
    }
  }
  const out = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
  const header = []
  u32(header, width)
  u32(header, width)
  header.push(1, 0, 0, 0, 0) // bit depth 1, greyscale, deflate, no filter, no interlace
  chunk(out, 'IHDR', header)
  chunk(out, 'IDAT', zlibStored(raw))
  chunk(out, 'IEND', [])
  return out
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

function base64(bytes) {
  let out = ''
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0)
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63]
    out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : '='
    out += i + 2 < bytes.length ? B64[n & 63] : '='
  }
  return out
}

/** The QR code of `text` as a PNG data: URL, for <image src>. */
function dataUrl(text, scale = 8) {
  return 'data:image/png;base64,' + base64(png(matrix(text), scale))
}

module.exports = {matrix, png, dataUrl, base64}
