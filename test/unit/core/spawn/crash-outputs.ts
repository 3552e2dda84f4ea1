// Real crash output, pasted from running each line below once by hand (Node 20, Python 3, Ruby 3.1),
// so the tests of crashReason see what an operator's app really prints.

/** node -e "require('./missing.json')" */
export const NODE_REQUIRE_MISSING = `node:internal/modules/cjs/loader:1210
  throw err;
  ^

Error: Cannot find module './missing.json'
Require stack:
- /tmp/op6/gen/[eval]
    at Module._resolveFilename (node:internal/modules/cjs/loader:1207:15)
    at Module._load (node:internal/modules/cjs/loader:1038:27)
    at Module.require (node:internal/modules/cjs/loader:1289:19)
    at require (node:internal/modules/helpers:182:18)
    at [eval]:1:1
    at runScriptInThisContext (node:internal/vm:209:10)
    at node:internal/process/execution:118:14
    at [eval]-wrapper:6:24
    at runScript (node:internal/process/execution:101:62)
    at evalScript (node:internal/process/execution:133:3) {
  code: 'MODULE_NOT_FOUND',
  requireStack: [ '/tmp/op6/gen/[eval]' ]
}

Node.js v20.20.2
`;

/** node -e "require('fs').readFileSync('/nonexistent/config.json')" */
export const NODE_ENOENT = `node:fs:573
  return binding.open(
                 ^

Error: ENOENT: no such file or directory, open '/nonexistent/config.json'
    at Object.openSync (node:fs:573:18)
    at Object.readFileSync (node:fs:452:35)
    at [eval]:1:15
    at runScriptInThisContext (node:internal/vm:209:10)
    at node:internal/process/execution:118:14
    at [eval]-wrapper:6:24
    at runScript (node:internal/process/execution:101:62)
    at evalScript (node:internal/process/execution:133:3)
    at node:internal/main/eval_string:51:3 {
  errno: -2,
  code: 'ENOENT',
  syscall: 'open',
  path: '/nonexistent/config.json'
}

Node.js v20.20.2
`;

/** node -e "throw new TypeError('x is not a function: really')" */
export const NODE_TYPE_ERROR = `[eval]:1
throw new TypeError('x is not a function: really')
^

TypeError: x is not a function: really
    at [eval]:1:7
    at runScriptInThisContext (node:internal/vm:209:10)
    at node:internal/process/execution:118:14
    at [eval]-wrapper:6:24
    at runScript (node:internal/process/execution:101:62)
    at evalScript (node:internal/process/execution:133:3)
    at node:internal/main/eval_string:51:3

Node.js v20.20.2
`;

/** python3 -c "open('missing.json')" */
export const PYTHON_ENOENT = `Traceback (most recent call last):
  File "<string>", line 1, in <module>
FileNotFoundError: [Errno 2] No such file or directory: 'missing.json'
`;

/** python3 -c " try:     open('missing.json') except OSError as e:     raise RuntimeError('cannot read settings: ' + str(e))" */
export const PYTHON_CHAINED = `Traceback (most recent call last):
  File "<string>", line 3, in <module>
FileNotFoundError: [Errno 2] No such file or directory: 'missing.json'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "<string>", line 5, in <module>
RuntimeError: cannot read settings: [Errno 2] No such file or directory: 'missing.json'
`;

/** ruby -e "require_relative './missing'" */
export const RUBY_LOAD_ERROR = `-e:1:in \`require_relative': cannot load such file -- /tmp/op6/gen/missing (LoadError)
	from -e:1:in \`<main>'
`;

/** ruby -e "def load_config; File.read('missing.json'); end; load_config" */
export const RUBY_ENOENT = `-e:1:in \`read': No such file or directory @ rb_sysopen - missing.json (Errno::ENOENT)
	from -e:1:in \`load_config'
	from -e:1:in \`<main>'
`;

/** ruby -e 'begin; File.read("missing.json"); rescue => e; raise "cannot read settings"; end' */
export const RUBY_CHAINED = `-e:1:in \`rescue in <main>': cannot read settings (RuntimeError)
	from -e:1:in \`<main>'
-e:1:in \`read': No such file or directory @ rb_sysopen - missing.json (Errno::ENOENT)
	from -e:1:in \`<main>'
`;


/** python3 settings.py, where settings.py reads os.environ["DATABASE_URL"] on its line 3 */
export const PYTHON_KEY_ERROR = `Traceback (most recent call last):
  File "/tmp/pyk/settings.py", line 3, in <module>
    os.environ["DATABASE_URL"]
    ~~~~~~~~~~^^^^^^^^^^^^^^^^
  File "<frozen os>", line 679, in __getitem__
KeyError: 'DATABASE_URL'
`;
