// Preloaded into every Heroku CLI process the conformance suite starts
// (NODE_OPTIONS=--require). It does two things and changes nothing else:
//
// 1. Refuses any connection to a host other than loopback, and records the
//    attempt, so that a CLI that tries to call out fails the suite instead of
//    reaching the network.
// 2. Records each HTTP response the CLI reads (method, path, status, body),
//    so that the suite can validate every JSON body against the Platform API
//    schema.
//
// Records are JSON lines appended to the file named by SLIPWAY_CLI_OBSERVE.
'use strict'

const fs = require('node:fs')
const net = require('node:net')
const http = require('node:http')

const out = process.env.SLIPWAY_CLI_OBSERVE
const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]'])

function record(entry) {
  if (out) fs.appendFileSync(out, JSON.stringify(entry) + '\n')
}

// net.Socket#connect is reached by http, https, tls and net alike.
const connect = net.Socket.prototype.connect
net.Socket.prototype.connect = function (...args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0]
  let host
  let port
  let path
  if (first !== null && typeof first === 'object') {
    host = first.host
    port = first.port
    path = first.path
  } else if (typeof first === 'string' && Number.isNaN(Number(first))) {
    path = first
  } else {
    port = first
    host = typeof args[1] === 'string' ? args[1] : undefined
  }
  if (path === undefined && host !== undefined && !LOOPBACK.has(String(host))) {
    record({ blocked: `${host}:${port}`, pid: process.pid })
    const error = new Error(`connection to ${host}:${port} refused by the loopback guard`)
    error.code = 'ECONNREFUSED'
    process.nextTick(() => this.destroy(error))
    return this
  }
  return connect.apply(this, args)
}

// Every body byte passes through emit('data'), whichever way it is read.
const emit = http.IncomingMessage.prototype.emit
http.IncomingMessage.prototype.emit = function (event, ...args) {
  if (this.req && event === 'data') {
    if (!this.__slipwayChunks) this.__slipwayChunks = []
    const chunk = args[0]
    this.__slipwayChunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)))
  } else if (this.req && event === 'end' && !this.__slipwayRecorded) {
    this.__slipwayRecorded = true
    record({
      method: this.req.method,
      host: this.req.host,
      path: this.req.path,
      status: this.statusCode,
      content_type: this.headers['content-type'] || null,
      next_range: this.headers['next-range'] || null,
      body: Buffer.concat(this.__slipwayChunks || []).toString('utf8'),
    })
  }
  return emit.call(this, event, ...args)
}
