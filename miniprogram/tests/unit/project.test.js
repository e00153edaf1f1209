// The project as the WeChat developer tools open it: the documented layout (project.config.json
// at the root, the code under miniprogramRoot, app.json listing pages that each have their four
// files, components that resolve), every WXML and WXSS file through WeChat's own compilers (wcc,
// wcsc, from miniprogram-compiler), and nothing in the code that logs.
const fs = require('fs')
const path = require('path')
const {wxmlToJs, wxssToJs} = require('miniprogram-compiler')

const PROJECT = path.resolve(__dirname, '../..')
const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf-8'))
const config = readJson(path.join(PROJECT, 'project.config.json'))
const ROOT = path.join(PROJECT, config.miniprogramRoot)
const app = readJson(path.join(ROOT, 'app.json'))

function files(dir, ext) {
  return fs.readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return files(full, ext)
    return full.endsWith(ext) ? [full] : []
  })
}

function componentsOf(jsonFile) {
  const json = readJson(jsonFile)
  return Object.entries(json.usingComponents || {}).map(([tag, ref]) => {
    const base = ref.startsWith('/') ? path.join(ROOT, ref) : path.resolve(path.dirname(jsonFile), ref)
    return {tag, base}
  })
}

test('project.config.json is a mini-program project with its code under miniprogramRoot', () => {
  expect(config.compileType).toBe('miniprogram')
  expect(fs.existsSync(path.join(ROOT, 'app.js'))).toBe(true)
  expect(typeof config.appid).toBe('string')
  expect(config.packOptions.ignore.map((i) => i.value)).toEqual(expect.arrayContaining(['node_modules', 'tests']))
})

test('app.json lists pages that exist with their four files, first the home page', () => {
  expect(app.pages[0]).toBe('pages/index/index')
  expect(new Set(app.pages).size).toBe(app.pages.length)
  for (const page of app.pages) {
    for (const ext of ['.js', '.json', '.wxml', '.wxss']) {
      expect([page + ext, fs.existsSync(path.join(ROOT, page + ext))]).toEqual([page + ext, true])
    }
    expect(readJson(path.join(ROOT, page + '.json')).navigationBarTitleText).toMatch(/[\u4e00-\u9fa5]/)
  }
  expect(fs.existsSync(path.join(ROOT, app.sitemapLocation))).toBe(true)
})

test('every page and component is every file it should be, and every component it uses resolves', () => {
  const jsons = files(ROOT, '.json').filter((f) => !['app.json', 'sitemap.json'].includes(path.basename(f)))
  for (const json of jsons) {
    for (const {tag, base} of componentsOf(json)) {
      expect([json, tag, fs.existsSync(base + '.json') && fs.existsSync(base + '.js')]).toEqual([json, tag, true])
    }
  }
  for (const {tag, base} of Object.entries(app.usingComponents || {}).map(([tag, ref]) => ({tag, base: path.join(ROOT, ref)}))) {
    expect([tag, readJson(base + '.json').component]).toEqual([tag, true])
  }
})

test('every WXML file compiles with wcc and every WXSS file with wcsc', () => {
  expect(() => wxmlToJs(ROOT)).not.toThrow()
  expect(() => wxssToJs(ROOT)).not.toThrow()
})

test('nothing in the mini-program logs (a log could carry a token or an ID number)', () => {
  for (const file of files(ROOT, '.js')) {
    const code = fs.readFileSync(file, 'utf-8')
    expect([path.relative(ROOT, file), /\bconsole\.(log|info|debug|warn|error)\b/.test(code)]).toEqual([path.relative(ROOT, file), false])
  }
})
