# The loaders benchmark's Rack app (bench/loaders.mjs): hello world, served by Ferry and by Passenger.
HELLO = "hello world\n"
run ->(_env) { [200, { 'Content-Type' => 'text/plain', 'Content-Length' => HELLO.bytesize.to_s }, [HELLO]] }
