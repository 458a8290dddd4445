// PostgreSQL JDBC through pgperf in transaction mode: past
// prepareThreshold=5 the driver switches to named server-side statements
// (S_1, S_2, ... per connection), so connections reuse names for different
// SQL.  Exits non-zero on any wrong result.
import java.sql.*;
import java.util.*;

public class JdbcTest {
    public static void main(String[] args) throws Exception {
        String url = System.getenv("PGPERF_JDBC_URL");
        int n = 6;
        List<Connection> conns = new ArrayList<>();
        List<PreparedStatement> sts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Connection c = DriverManager.getConnection(url);
            conns.add(c);
            sts.add(c.prepareStatement("select ?::int + " + (i * 1000)));
        }
        Set<Integer> pids = new HashSet<>();
        for (int rnd = 0; rnd < 20; rnd++) {
            for (int i = 0; i < n; i++) {
                Connection c = conns.get(i);
                PreparedStatement ps = sts.get(i);
                ps.setInt(1, rnd);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    int v = rs.getInt(1);
                    if (v != i * 1000 + rnd)
                        throw new RuntimeException("conn " + i + " round " + rnd + ": got " + v);
                }
                if (rnd % 4 == 0) { // an explicit transaction now and then
                    c.setAutoCommit(false);
                    ps.setInt(1, rnd);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        if (rs.getInt(1) != i * 1000 + rnd)
                            throw new RuntimeException("in transaction");
                    }
                    c.commit();
                    c.setAutoCommit(true);
                }
                try (Statement s = c.createStatement();
                     ResultSet rs = s.executeQuery("select pg_backend_pid()")) {
                    rs.next();
                    pids.add(rs.getInt(1));
                }
            }
        }
        for (Connection c : conns)
            c.close();
        if (pids.size() >= n)
            throw new RuntimeException("connections did not share servers");
        System.out.println("JDBC " + org.postgresql.util.DriverInfo.DRIVER_VERSION + ": ok (" + pids.size() + " server connections for " + n + " clients)");
    }
}
