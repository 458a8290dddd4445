# ruby-pg through pgperf in transaction mode: conn.prepare with the same
# name and different SQL on several connections, interleaved.
require "pg"

n = 6
conns = Array.new(n) { PG.connect(ENV.fetch("PGPERF_DSN")) }
conns.each_with_index { |c, i| c.prepare("q", "select $1::int + #{i * 1000}") }
pids = {}
10.times do |rnd|
  conns.each_with_index do |c, i|
    v = c.exec_prepared("q", [rnd]).getvalue(0, 0).to_i
    raise "conn #{i} round #{rnd}: got #{v}" unless v == i * 1000 + rnd
    c.transaction do |t|
      v = t.exec_prepared("q", [rnd + 1]).getvalue(0, 0).to_i
      raise "in transaction: got #{v}" unless v == i * 1000 + rnd + 1
    end
    pids[c.exec("select pg_backend_pid()").getvalue(0, 0)] = true
  end
end
begin
  conns[0].prepare("q", "select 2")
  raise "a second prepare of q succeeded"
rescue PG::DuplicatePstatement
end
conns.each(&:close)
raise "connections did not share servers" unless pids.size < n
puts "ruby-pg #{PG::VERSION}: ok (#{pids.size} server connections for #{n} clients)"
