// Runs dynalite, a DynamoDB-compatible server, for the bridge's store
// tests: node .ci/dynalite/server.js --host 127.0.0.1 --port PORT
//
// dynalite's own cli.js dies when a client aborts a request mid-body (its
// request error handler rethrows ECONNRESET), and clients abort requests
// whenever a Go context is cancelled. DynamoDB itself shrugs that off, so
// this launcher does too; every other error still ends the process. Tables
// become active at once instead of after dynalite's default 500 ms.
'use strict'

const dynalite = require('dynalite')

function arg (name, fallback) {
  const i = process.argv.indexOf('--' + name)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback
}

process.on('uncaughtException', (err) => {
  if (err && err.code === 'ECONNRESET') {
    console.error('dynalite: a client aborted a request')
    return
  }
  console.error(err)
  process.exit(1)
})

const host = arg('host', '127.0.0.1')
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
server.listen(Number(arg('port', '4567')), host, () => {
  console.log('dynalite listening at http://%s:%d', host, server.address().port)
})
