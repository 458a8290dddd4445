#!/usr/bin/python3
"""demo_shop.py DATABASE_URL -- a small shop on SQLAlchemy (Debian's
python3-sqlalchemy, psycopg2), run through pgperf by scripts/demo.sh.

It creates its tables (demo_customers, demo_products, demo_orders,
demo_order_items; dropped first if they exist), then serves a few dozen
"GET /customers/<email>/orders" requests the way a typical ORM application
does, with three classic mistakes for pgperf to name:

  * the customer is looked up by e-mail, a column without an index;
  * each order's items are loaded lazily, one query per order: an N+1;
  * the product catalog of a category is read again on every request,
    although it never changes: a cacheable query.
"""
import sys
import time

from sqlalchemy import Column, ForeignKey, Integer, Text, create_engine, text
from sqlalchemy.orm import declarative_base, relationship, sessionmaker

Base = declarative_base()

CUSTOMERS = 30000   # big enough for an index to matter
BUYERS = 300        # the customers who have orders: 10 each
ORDERS = 3000
ITEMS = 9000
PRODUCTS = 400
CATEGORIES = ("books", "garden", "kitchen", "toys")
REQUESTS = 30


class Customer(Base):
    __tablename__ = "demo_customers"
    id = Column(Integer, primary_key=True)
    name = Column(Text)
    email = Column(Text)  # no index: the lookup scans the table
    orders = relationship("Order", lazy="select", order_by="Order.id")


class Product(Base):
    __tablename__ = "demo_products"
    id = Column(Integer, primary_key=True)
    name = Column(Text)
    category = Column(Text)
    price = Column(Integer)


class Order(Base):
    __tablename__ = "demo_orders"
    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("demo_customers.id"), index=True)
    total = Column(Integer)
    items = relationship("OrderItem", lazy="select")  # the N+1


class OrderItem(Base):
    __tablename__ = "demo_order_items"
    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("demo_orders.id"), index=True)
    product_id = Column(Integer, ForeignKey("demo_products.id"))
    qty = Column(Integer)


def setup(engine):
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with engine.begin() as c:
        c.execute(text(
            "insert into demo_customers (id, name, email) "
            "select i, 'customer ' || i, 'customer' || i || '@example.com' "
            "from generate_series(1, :n) i"), {"n": CUSTOMERS})
        c.execute(text(
            "insert into demo_products (id, name, category, price) "
            "select i, 'product ' || i, (array['books','garden','kitchen',"
            "'toys'])[1 + i % 4], 100 + i % 900 "
            "from generate_series(1, :n) i"), {"n": PRODUCTS})
        c.execute(text(
            "insert into demo_orders (id, customer_id, total) "
            "select i, 1 + i % :b, 10 * i from generate_series(1, :n) i"),
            {"b": BUYERS, "n": ORDERS})
        c.execute(text(
            "insert into demo_order_items (id, order_id, product_id, qty) "
            "select i, 1 + i % :o, 1 + i % :p, 1 + i % 5 "
            "from generate_series(1, :n) i"),
            {"o": ORDERS, "p": PRODUCTS, "n": ITEMS})
    with engine.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("analyze demo_customers, demo_products, demo_orders, "
                 "demo_order_items"))


def customer_orders(Session, k):
    """GET /customers/<email>/orders, as an ORM writes it."""
    with Session() as s:
        email = "customer%d@example.com" % (1 + k % BUYERS)
        customer = s.query(Customer).filter(Customer.email == email).one()
        lines = 0
        for order in customer.orders:
            lines += len(order.items)  # one query per order
        category = CATEGORIES[k % len(CATEGORIES)]
        catalog = (s.query(Product).filter(Product.category == category)
                   .order_by(Product.id).all())
        s.commit()
    return lines, len(catalog)


def main():
    url = sys.argv[1]
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    engine = create_engine(url, pool_size=1, future=True)
    t0 = time.time()
    setup(engine)
    print("demo: shop tables loaded (%d customers, %d orders) in %.1f s"
          % (CUSTOMERS, ORDERS, time.time() - t0))
    Session = sessionmaker(bind=engine, future=True)
    t0 = time.time()
    for k in range(REQUESTS):
        lines, products = customer_orders(Session, k)
        assert lines > 0 and products > 0, (lines, products)
        time.sleep(0.15)  # between requests: pgperf tells them apart
    print("demo: served %d requests in %.1f s" % (REQUESTS, time.time() - t0))
    engine.dispose()


if __name__ == "__main__":
    main()
