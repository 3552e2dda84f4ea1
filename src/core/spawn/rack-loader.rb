# Ferry's Rack loader: serves the app of config.ru on the unix socket Ferry chose
# (FERRY_APP_SOCKET), one request per connection, and reports readiness on fd 3.
require 'json'
require 'socket'
require 'stringio'
require 'rack'

startup_file = ARGV.fetch(0)
socket_path = ENV.delete('FERRY_APP_SOCKET')
Dir.chdir(File.dirname(File.expand_path(startup_file)))
parsed = Rack::Builder.parse_file(File.expand_path(startup_file))
app = parsed.is_a?(Array) ? parsed.first : parsed # rack 2 returns [app, options]

File.unlink(socket_path) if File.exist?(socket_path)
server = UNIXServer.new(socket_path)
ready = IO.new(3)
ready.write(JSON.generate(type: 'ready', socket: socket_path, pid: Process.pid) + "\n")
ready.close
$stdout.sync = true
$stderr.sync = true

def read_request(client)
  line = client.gets("\r\n") or return nil
  method, target, = line.split(' ', 3)
  headers = {}
  while (header = client.gets("\r\n")) && header != "\r\n"
    name, value = header.split(':', 2)
    headers[name.strip.downcase] = value.to_s.strip
  end
  length = headers['content-length'].to_i
  body = length.positive? ? client.read(length) : ''
  [method, target, headers, body]
end

def rack_env(method, target, headers, body)
  path, query = target.split('?', 2)
  env = {
    'REQUEST_METHOD' => method, 'SCRIPT_NAME' => '', 'PATH_INFO' => path, 'QUERY_STRING' => query || '',
    'SERVER_NAME' => (headers['host'] || 'localhost').split(':').first, 'SERVER_PORT' => '80',
    'SERVER_PROTOCOL' => 'HTTP/1.1', 'REMOTE_ADDR' => '127.0.0.1',
    'rack.version' => defined?(Rack::VERSION) ? Rack::VERSION : [1, 3],
    'rack.url_scheme' => headers['x-forwarded-proto'] || 'http', 'rack.input' => StringIO.new(body),
    'rack.errors' => $stderr, 'rack.multithread' => false, 'rack.multiprocess' => true,
    'rack.run_once' => false, 'rack.hijack?' => false
  }
  env['CONTENT_TYPE'] = headers['content-type'] if headers['content-type']
  env['CONTENT_LENGTH'] = headers['content-length'] if headers['content-length']
  headers.each do |name, value|
    next if %w[content-type content-length].include?(name)
    env["HTTP_#{name.upcase.tr('-', '_')}"] = value
  end
  env
end

loop do
  client = server.accept
  begin
    request = read_request(client)
    next unless request
    method = request[0]
    status, headers, body = app.call(rack_env(*request))
    data = +''
    body.each { |chunk| data << chunk.to_s }
    body.close if body.respond_to?(:close)
    reason = Rack::Utils::HTTP_STATUS_CODES[status.to_i] || 'Unknown'
    out = +"HTTP/1.1 #{status} #{reason}\r\n"
    headers.each do |name, value|
      next if %w[content-length connection transfer-encoding].include?(name.to_s.downcase)
      Array(value).flat_map { |v| v.to_s.split("\n") }.each { |v| out << "#{name}: #{v}\r\n" }
    end
    out << "Content-Length: #{data.bytesize}\r\nConnection: close\r\n\r\n"
    out << data unless method == 'HEAD'
    client.write(out)
  rescue StandardError => e
    warn "#{e.class}: #{e.message}\n#{e.backtrace&.first(10)&.join("\n")}"
    client.write("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n") rescue nil
  ensure
    client.close
  end
end
