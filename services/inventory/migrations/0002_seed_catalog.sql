-- The starting catalog: twenty products, applied once on the first start.
INSERT INTO products (sku, name, price_cents, on_hand, available) VALUES
    ('KB-MECH-001', 'Mechanical keyboard, brown switches', 8900, 120, 120),
    ('MS-WL-002', 'Wireless mouse', 2900, 300, 300),
    ('MN-27-4K', '27" 4K monitor', 32900, 40, 40),
    ('HD-NC-100', 'Noise-cancelling headphones', 19900, 75, 75),
    ('CB-USBC-1M', 'USB-C cable, 1 m', 900, 1000, 1000),
    ('CB-HDMI-2M', 'HDMI cable, 2 m', 1200, 600, 600),
    ('DK-TB4', 'Thunderbolt 4 dock', 24900, 25, 25),
    ('WC-1080P', '1080p webcam', 5900, 150, 150),
    ('MC-USB-CARD', 'USB condenser microphone', 7900, 60, 60),
    ('LP-STAND-AL', 'Aluminium laptop stand', 3900, 200, 200),
    ('SSD-NVME-1T', 'NVMe SSD, 1 TB', 8900, 180, 180),
    ('SSD-NVME-2T', 'NVMe SSD, 2 TB', 14900, 90, 90),
    ('RAM-DDR5-32', 'DDR5 memory, 32 GB kit', 11900, 110, 110),
    ('PSU-750-GLD', '750 W power supply, 80+ Gold', 10900, 45, 45),
    ('CH-ERGO-01', 'Ergonomic office chair', 29900, 15, 15),
    ('DSK-LAMP-LED', 'LED desk lamp', 3400, 250, 250),
    ('PAD-XL-CLOTH', 'Extra-large mouse pad', 1900, 400, 400),
    ('HUB-USB3-7', '7-port USB 3 hub', 3900, 130, 130),
    ('SPK-BT-MINI', 'Bluetooth mini speaker', 4900, 85, 85),
    ('GPU-RTX-LTD', 'Graphics card, limited edition', 79900, 7, 7)
ON CONFLICT (sku) DO NOTHING;
