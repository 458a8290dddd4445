#!/usr/bin/python3
"""nplus1_sqlalchemy.py -- SQLAlchemy endpoints through pgperf, for the N+1
integration test.

    nplus1_sqlalchemy.py URL setup
    nplus1_sqlalchemy.py URL run [--sqlcommenter] [--requests N]

`setup` creates customers, orders and order_items (foreign keys included)
and fills them.  `run` serves N requests of each endpoint:

    /orders/lazy    orders, then each order's items lazily: an N+1
    /orders/eager   the same with selectinload: one query for the items

A request is one Session used and closed (one transaction).  With
--sqlcommenter every statement carries sqlcommenter tags (route and a
traceparent per request), as the opentelemetry/sqlcommenter integrations
write them; without, requests are told apart by their transactions and by
a pause between them.
"""
import sys
import time
import urllib.parse
import uuid

from sqlalchemy import Column, ForeignKey, Integer, Text, create_engine, event
from sqlalchemy.orm import declarative_base, relationship, selectinload, sessionmaker

Base = declarative_base()


class Customer(Base):
    __tablename__ = "customers"
    id = Column(Integer, primary_key=True)
    name = Column(Text)


class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"))
    total = Column(Integer)
    order_items = relationship("OrderItem", lazy="select")


class OrderItem(Base):
    __tablename__ = "order_items"
    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("orders.id"), index=True)
    sku = Column(Text)
    qty = Column(Integer)


current = {"route": None, "trace": None}


def comment(conn, cursor, statement, parameters, context, executemany):
    """sqlcommenter: key='url-encoded value' pairs in a trailing comment."""
    if not current["route"]:
        return statement, parameters
    pct = "%%" if parameters else "%"
    route = urllib.parse.quote(current["route"], safe="").replace("%", pct)
    tp = "00-%s-%s-01" % (current["trace"], uuid.uuid4().hex[:16])
    return "%s /*route='%s',traceparent='%s'*/" % (statement, route, tp), parameters


def setup(engine):
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    Session = sessionmaker(bind=engine)
    with Session() as s:
        s.add_all([Customer(id=i, name="customer %d" % i) for i in range(1, 11)])
        s.flush()
        for o in range(1, 51):
            s.add(Order(id=o, customer_id=1 + o % 10, total=10 * o))
        s.flush()
        for i in range(1, 201):
            s.add(OrderItem(order_id=1 + i % 50, sku="sku-%d" % i, qty=i % 5))
        s.commit()


def lazy(Session):
    with Session() as s:
        n = 0
        for o in s.query(Order).filter(Order.total <= 120).order_by(Order.id):
            n += len(o.order_items)  # one query per order
        s.commit()
    return n


def eager(Session):
    with Session() as s:
        n = 0
        q = s.query(Order).options(selectinload(Order.order_items))
        for o in q.filter(Order.total <= 120).order_by(Order.id):
            n += len(o.order_items)
        s.commit()
    return n


def main():
    url, cmd = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    engine = create_engine(url, pool_size=1, future=True)
    if cmd == "setup":
        setup(engine)
        return
    tags = "--sqlcommenter" in args
    nreq = int(args[args.index("--requests") + 1]) if "--requests" in args else 3
    if tags:
        event.listen(engine, "before_cursor_execute", comment, retval=True)
    Session = sessionmaker(bind=engine, future=True)
    for route, endpoint in (("/orders/lazy", lazy), ("/orders/eager", eager)):
        for _ in range(nreq):
            if tags:
                current["route"], current["trace"] = route, uuid.uuid4().hex
            got = endpoint(Session)
            assert got == 48, (route, got)  # items of orders 1..12
            current["route"] = None
            time.sleep(0.3)  # longer than request_idle_gap_ms
    engine.dispose()


if __name__ == "__main__":
    main()
