from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.faults.tcp_proxy import TcpProxy


def test_proxy_passes_traffic_and_refuses_it_during_an_outage(database_url: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    with TcpProxy(str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432)) as proxy:
        via_proxy = psycopg.conninfo.make_conninfo(database_url, host="127.0.0.1", port=proxy.port)
        with psycopg.connect(via_proxy) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            with proxy.outage():
                with pytest.raises(psycopg.OperationalError):
                    conn.execute("SELECT 1")
                with pytest.raises(psycopg.OperationalError):
                    psycopg.connect(via_proxy, connect_timeout=2)
        with psycopg.connect(via_proxy) as conn:
            assert conn.execute("SELECT 2").fetchone() == (2,)


def test_a_paused_proxy_holds_calls_until_it_resumes(database_url: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    with TcpProxy(str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432)) as proxy:
        via_proxy = psycopg.conninfo.make_conninfo(database_url, host="127.0.0.1", port=proxy.port)
        with psycopg.connect(via_proxy) as conn, ThreadPoolExecutor(1) as pool:
            proxy.pause()
            answer = pool.submit(lambda: conn.execute("SELECT 3").fetchone())
            with pytest.raises(TimeoutError):
                answer.result(timeout=1.0)
            proxy.resume()
            assert answer.result(timeout=5) == (3,)
