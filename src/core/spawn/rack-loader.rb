# Ferry's Rack loader: serves the app of config.ru over HTTP/1.1 on the unix socket Ferry chose
# (FERRY_APP_SOCKET) and reports readiness on fd 3. Debian's ruby and ruby-rack only.
#
# Connections are kept alive across requests (the core reuses them); each has a thread, and at most
# FERRY_CONCURRENCY requests (0: no limit) run the app at once. A body goes out as the app yields
# it: with the app's Content-Length, else with one computed for an Array, else chunked.
# An exception is written to stderr as one JSON line (see report_exception).
require 'json'
require 'socket'
require 'stringio'
require 'tempfile'
require 'rack'

module FerryRackLoader
  MAX_LINE = 65_536
  MAX_HEAD = 256 * 1024
  # Bodies larger than this are kept in a temp file instead of memory (rack.input must rewind).
  MEMORY_BODY_BYTES = 1024 * 1024
  # The record must stay one log line (the core splits lines past 16 KiB).
  MAX_TRACEBACK_CHARS = 6000
  HOP_BY_HOP = %w[connection keep-alive transfer-encoding te trailer upgrade proxy-connection].freeze
  LOADER_FILE = File.expand_path(__FILE__)
  LOADER_PATH = __FILE__ # as Ruby names it in backtraces (relative if it was started so)

  class BadRequest < StandardError
    attr_reader :status

    def initialize(status, message)
      super(message)
      @status = status
    end
  end

  # The core closed the connection in the middle of a request.
  class ClientGone < StandardError; end

  STDERR_LOCK = Mutex.new

  module_function

  # The backtrace without the loader's own frames and Rack's builder (they say nothing about the app).
  def app_frames(exc)
    frames = exc.backtrace || []
    own = frames.reject { |f| f.start_with?("#{LOADER_FILE}:", "#{LOADER_PATH}:") || f.include?('/rack/builder.rb:') }
    # The app's own files relative to its directory, as its developer names them.
    (own.empty? ? frames : own).map { |f| f.delete_prefix("#{Dir.pwd}/") }
  end

  # Writes the exception to stderr as one JSON line: the core logs it as one record (at error
  # level) and keeps its text, as Ruby prints an uncaught exception, as the app's last output
  # (spawn error, friendly page). Returns [summary, text].
  def report_exception(exc, whence, request = nil)
    frames = app_frames(exc)
    trimmed = exc.dup
    trimmed.set_backtrace(frames)
    text = trimmed.full_message(highlight: false, order: :top)
    text = "...\n#{text[-MAX_TRACEBACK_CHARS..]}" if text.length > MAX_TRACEBACK_CHARS
    # The first frame in the app's own files (the line to fix), else the first there is.
    last = frames.find { |f| !f.start_with?('/', '<') } || frames.first
    file, line, function = last ? [last[/\A(.*?):\d+/, 1], last[/:(\d+)/, 1]&.to_i, last[/in [`'](.*)'/, 1]] : [nil, nil, nil]
    where = last ? " (at #{last})" : ''
    summary = "#{exc.class}: #{exc.message}#{where}"
    record = {
      msg: (whence == 'load' ? 'exception while loading the app: ' : "exception in #{request}: ") + summary,
      ferryAppException: { when: whence, type: exc.class.name, message: exc.message, file: file, line: line, function: function, traceback: text }
    }
    line_out = "#{JSON.generate(record)}\n"
    STDERR_LOCK.synchronize do
      $stderr.write(line_out)
      $stderr.flush
    rescue StandardError
      nil
    end
    [summary, text]
  end

  # A body of known length (Content-Length) or a chunked one (RFC 9112 section 7.1), read whole
  # into a rewindable rack.input: memory, or a temp file past MEMORY_BODY_BYTES.
  def read_body(io, length, chunked)
    buffer = StringIO.new(+''.b)
    spill = lambda do
      next if buffer.is_a?(Tempfile) || buffer.size <= MEMORY_BODY_BYTES
      file = Tempfile.new('ferry-rack-input')
      file.binmode
      file.unlink # gone from the directory at once; the descriptor keeps it until closed
      file.write(buffer.string)
      buffer = file
    end
    if chunked
      loop do
        line = io.gets("\n", MAX_LINE) or raise ClientGone, 'the chunked request body ended early'
        size = Integer(line.split(';', 2).first.strip, 16) rescue raise(BadRequest.new(400, 'bad chunk size'))
        if size.zero?
          loop do
            trailer = io.gets("\n", MAX_LINE) or raise ClientGone, 'the chunked request body ended early'
            break if trailer == "\r\n" || trailer == "\n"
          end
          break
        end
        data = io.read(size)
        raise ClientGone, 'the chunked request body ended early' if data.nil? || data.bytesize < size || !["\r\n", "\n"].include?(io.gets("\n", MAX_LINE))

        buffer.write(data)
        spill.call
      end
    else
      remaining = length
      while remaining.positive?
        data = io.read([remaining, 65_536].min) or raise ClientGone, 'the request body ended early'
        buffer.write(data)
        remaining -= data.bytesize
        spill.call
      end
    end
    buffer.rewind
    buffer
  end

  def read_head(io)
    line = io.gets("\n", MAX_LINE + 1)
    line = io.gets("\n", MAX_LINE + 1) while line == "\r\n" || line == "\n"
    return nil if line.nil? # the core closed an idle connection
    raise BadRequest.new(line.bytesize > MAX_LINE ? 431 : 400, 'bad request line') unless line.end_with?("\n")

    parts = line.chomp.split(' ', -1)
    raise BadRequest.new(400, 'bad request line') unless parts.size == 3 && !parts[0].empty? && !parts[1].empty?

    method, target, version = parts
    raise BadRequest.new(505, 'unsupported HTTP version') unless %w[HTTP/1.1 HTTP/1.0].include?(version)

    headers = []
    size = 0
    loop do
      header = io.gets("\n", MAX_LINE + 1)
      raise ClientGone, 'the connection closed mid-head' if header.nil?
      raise BadRequest.new(431, 'header line too long') unless header.end_with?("\n")
      break if header == "\r\n" || header == "\n"

      size += header.bytesize
      raise BadRequest.new(431, 'headers too large') if size > MAX_HEAD

      name, value = header.split(':', 2)
      raise BadRequest.new(400, 'bad header line') if value.nil? || name.empty? || name != name.strip

      headers << [name.downcase, value.strip]
    end
    [method, target, version, headers]
  end

  def rack_env(server, method, target, version, headers)
    path, query = target.split('?', 2)
    env = {
      'REQUEST_METHOD' => method, 'SCRIPT_NAME' => '', 'PATH_INFO' => path, 'QUERY_STRING' => query || '',
      'REQUEST_URI' => target, 'SERVER_NAME' => 'localhost', 'SERVER_PORT' => '80', 'SERVER_PROTOCOL' => version,
      'REMOTE_ADDR' => '127.0.0.1', 'rack.version' => defined?(Rack::VERSION) ? Rack::VERSION : [1, 3],
      'rack.url_scheme' => 'http', 'rack.errors' => $stderr, 'rack.multithread' => server[:concurrency] != 1,
      'rack.multiprocess' => true, 'rack.run_once' => false, 'rack.hijack?' => true
    }
    headers.each do |name, value|
      case name
      when 'content-type' then env['CONTENT_TYPE'] = value
      when 'content-length' then env['CONTENT_LENGTH'] = value
      else
        next if name.include?('_') # X_Forwarded_For would pass for X-Forwarded-For (nginx drops them too)

        key = "HTTP_#{name.upcase.tr('-', '_')}"
        env[key] = env.key?(key) ? "#{env[key]}#{name == 'cookie' ? '; ' : ', '}#{value}" : value
      end
    end
    env['SERVER_NAME'] = env['HTTP_HOST'].sub(/:\d+\z/, '') if env['HTTP_HOST']
    env['rack.url_scheme'] = 'https' if env['HTTP_X_FORWARDED_PROTO'] == 'https'
    env['REMOTE_ADDR'] = env['HTTP_X_REAL_IP'] if env['HTTP_X_REAL_IP']
    env
  end

  # Writes to the core; a failure there is the connection's end, never the app's error.
  def send_out(client, *parts)
    client.write(*parts)
  rescue SystemCallError, IOError => e
    raise ClientGone, e.message
  end

  def refuse(client, status)
    reason = Rack::Utils::HTTP_STATUS_CODES[status] || 'Error'
    body = "#{status} #{reason}\n"
    send_out(client, "HTTP/1.1 #{status} #{reason}\r\nContent-Type: text/plain\r\nContent-Length: #{body.bytesize}\r\nConnection: close\r\n\r\n#{body}")
  end

  def loopback?(address)
    address.start_with?('127.') || ['::1', '[::1]', 'localhost'].include?(address)
  end

  def escape_html(text)
    text.to_s.gsub('&', '&amp;').gsub('<', '&lt;').gsub('>', '&gt;')
  end

  # The 500 for an exception before the answer began: in development (or --friendly-error-pages)
  # the exception for a client the core's friendly pages would show details to, else a plain page.
  def exception_answer(server, env, summary, text)
    forwarded = env['HTTP_X_FORWARDED_FOR'].to_s.split(',').last.to_s.strip
    id = env['HTTP_X_REQUEST_ID'].to_s
    mode = server[:friendly_errors]
    if mode == 'all' || (mode == 'local' && loopback?(forwarded))
      body = <<~HTML
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>The application raised an exception</title><style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}pre{background:#f4f4f4;padding:1rem;overflow:auto}</style></head>
        <body><h1>The application raised an exception</h1>
        <p>#{escape_html(summary)}</p>
        <pre>#{escape_html(text)}</pre>
        <p>Request id: #{escape_html(id)}</p>
        <p>This page is shown because the app runs in development (or with --friendly-error-pages); other clients get a plain 500.</p>
        </body></html>
      HTML
      [body, 'text/html; charset=utf-8']
    else
      ["500 Internal Server Error\n\nThe application raised an exception.\nRequest id: #{id}\n", 'text/plain; charset=utf-8']
    end
  end

  def head_lines(status, headers)
    reason = Rack::Utils::HTTP_STATUS_CODES[status] || 'Unknown'
    out = +"HTTP/1.1 #{status} #{reason}\r\n"
    length = nil
    headers.each do |name, value|
      lower = name.to_s.downcase
      next if lower.start_with?('rack.')
      # A 101's Connection and Upgrade are the switch itself; otherwise the framing is ours.
      next if HOP_BY_HOP.include?(lower) && !(status == 101 && %w[connection upgrade].include?(lower))

      values = Array(value).flat_map { |v| v.to_s.split("\n") }
      length = values.first.to_i if lower == 'content-length'
      values.each { |v| out << "#{name}: #{v}\r\n" }
    end
    [out, length]
  end

  # Sends one answer, the body as it is yielded. Returns true if it was sent whole (the connection
  # can carry another request), false if it broke off (only a close tells the core).
  def respond(client, server, env, method, version, keep_alive, request_label)
    sent = false
    body = nil
    status, headers, body = server[:app].call(env)
    return :hijacked if env['rack.hijack_io'] # full hijack: the socket is the app's now, untouched

    status = status.to_i
    hijack = headers['rack.hijack'] || headers.find { |name, _| name.to_s.downcase == 'rack.hijack' }&.last
    if hijack
      # Partial hijack: the status and headers as the app gave them, then the socket is the app's.
      head, = head_lines(status, headers)
      # Not a switch (101): the body runs until the app closes the socket, which the core must know.
      head << "Connection: close\r\n" unless status == 101
      send_out(client, head, "\r\n")
      sent = true
      hijack.call(client)
      return :hijacked
    end
    no_body = method == 'HEAD' || [204, 304].include?(status) || status < 200
    head, length = head_lines(status, headers)
    framing = if length || [204, 304].include?(status) || status < 200
                :length
              elsif body.respond_to?(:to_ary)
                parts = body.to_ary.map(&:to_s)
                length = parts.sum(&:bytesize)
                head << "Content-Length: #{length}\r\n"
                :length
              elsif method == 'HEAD'
                :none
              elsif version == 'HTTP/1.1'
                head << "Transfer-Encoding: chunked\r\n"
                :chunked
              else
                keep_alive = false # HTTP/1.0: the close ends the body
                :close
              end
    head << (keep_alive ? (version == 'HTTP/1.0' ? "Connection: keep-alive\r\n" : '') : "Connection: close\r\n") << "\r\n"
    remaining = length
    if parts
      data = no_body ? '' : parts.join
      send_out(client, head, data)
      sent = true
      remaining = 0
    else
      pending = head
      body.each do |chunk|
        chunk = chunk.to_s
        next if chunk.empty? || no_body

        if framing == :chunked
          send_out(client, pending, chunk.bytesize.to_s(16), "\r\n", chunk, "\r\n")
        else
          chunk = chunk.byteslice(0, remaining) if remaining && chunk.bytesize > remaining # more than it promised: not sent
          remaining -= chunk.bytesize if remaining
          send_out(client, pending, chunk)
        end
        pending = ''
        sent = true
      end
      send_out(client, pending, framing == :chunked && !no_body ? "0\r\n\r\n" : '')
      sent = true
    end
    # Fewer bytes than its Content-Length: only a close tells the core.
    keep_alive && !(remaining && remaining.positive? && !no_body)
  rescue ClientGone
    raise
  rescue Exception => e # rubocop:disable Lint/RescueException -- a per-request error must not end the process
    raise if e.is_a?(SignalException) || e.is_a?(SystemExit)

    summary, text = report_exception(e, 'request', request_label)
    return false if sent || env['rack.hijack_io'] # cut short, or the app failed with the socket: the core sees it close

    page, type = exception_answer(server, env, summary, text)
    send_out(client, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: #{type}\r\nCache-Control: no-store\r\nContent-Length: #{page.bytesize}\r\n#{keep_alive ? '' : "Connection: close\r\n"}\r\n", method == 'HEAD' ? '' : page)
    keep_alive
  ensure
    body.close if body.respond_to?(:close)
  end

  def serve_one(client, server)
    method, target, version, headers = read_head(client)
    return false if method.nil?

    tokens = []
    length = nil
    codings = nil
    headers.each do |name, value|
      case name
      when 'connection' then tokens.concat(value.split(',').map { |t| t.strip.downcase })
      when 'content-length'
        raise BadRequest.new(400, 'bad Content-Length') unless value.match?(/\A\d+\z/) && (length.nil? || length == value.to_i)

        length = value.to_i
      when 'transfer-encoding' then codings = [codings, value.downcase].compact.join(', ')
      end
    end
    if codings
      raise BadRequest.new(length ? 400 : 501, 'unsupported Transfer-Encoding') if length || codings.split(',').last.strip != 'chunked'
    end
    keep_alive = version == 'HTTP/1.1' ? !tokens.include?('close') : tokens.include?('keep-alive')
    env = rack_env(server, method, target, version, headers)
    # Full hijack (Rack 2): the app takes the socket; the loader then neither writes nor closes it.
    env['rack.hijack'] = lambda { env['rack.hijack_io'] = client }
    input = read_body(client, length || 0, !codings.nil?)
    env['rack.input'] = input
    env['CONTENT_LENGTH'] = input.size.to_s if codings
    slots = server[:slots]
    token = slots&.pop
    begin
      respond(client, server, env, method, version, keep_alive, "#{method} #{target.split('?', 2).first}")
    ensure
      slots&.push(token)
      input.close
    end
  rescue BadRequest => e
    refuse(client, e.status)
    false
  end

  def serve_connection(client, server)
    hijacked = false
    loop do
      result = serve_one(client, server)
      hijacked = result == :hijacked
      break unless result == true
    end
  rescue ClientGone, SystemCallError, IOError
    nil
  rescue StandardError => e # the loader's own failure: one record, not a thread's report
    report_exception(e, 'request', 'a connection')
  ensure
    client.close unless hijacked || client.closed?
  end

  def main(startup_file)
    socket_path = ENV.delete('FERRY_APP_SOCKET')
    concurrency = Integer(ENV.delete('FERRY_CONCURRENCY') || '1')
    friendly_errors = ENV.delete('FERRY_FRIENDLY_ERRORS') || 'off'
    $stdout.sync = true
    $stderr.sync = true
    begin
      config = File.expand_path(startup_file)
      Dir.chdir(File.dirname(config))
      parsed = Rack::Builder.parse_file(config)
    rescue Exception => e # rubocop:disable Lint/RescueException -- SyntaxError and LoadError too
      raise if e.is_a?(SignalException)

      report_exception(e, 'load')
      exit!(e.is_a?(SystemExit) && !e.success? ? e.status : 1)
    end
    app = parsed.is_a?(Array) ? parsed.first : parsed # rack 2 returns [app, options]

    File.unlink(socket_path) if File.exist?(socket_path)
    listener = UNIXServer.new(socket_path)
    listener.listen(1024)
    # The thread pool's size: connections are many (kept alive), app calls at most this many.
    slots = nil
    if concurrency.positive?
      slots = SizedQueue.new(concurrency)
      concurrency.times { |i| slots.push(i) }
    end
    server = { app: app, concurrency: concurrency, slots: slots, friendly_errors: friendly_errors }
    ready = IO.new(3)
    ready.write("#{JSON.generate(type: 'ready', socket: socket_path, pid: Process.pid)}\n")
    ready.close
    loop do
      client = listener.accept
      Thread.new(client) { |c| serve_connection(c, server) }
    end
  end
end

FerryRackLoader.main(ARGV.fetch(0)) if $PROGRAM_NAME == __FILE__
