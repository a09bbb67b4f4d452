"""The benchmarks' seeded catalog generator: realistic items, valid barcodes, about 1% faulty.

`generate(n, seed, stores)` is deterministic for its arguments. Item `start + i` gets SKU
`SKU-<start + i>` and barcodes derived from that number, so barcodes never repeat in a store
(nor anywhere) and generating with disjoint `start` ranges yields disjoint catalogs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from catalog_ingest.domain.barcodes import gs1_check_digit

FAULT_RATE: Final = 0.01
FAULT_KINDS: Final = ("check_digit", "price", "name")
BAD_PRICES: Final = ("4,99", "-1.00", "12.", "1.2345", "abc", "1e3", " 3.99")
BLANK_NAMES: Final = (" ", "   ", "\t")

# category -> (subcategories, product nouns, sizes)
CATALOG: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]] = {
    "Dairy": (("Milk", "Cheese", "Yogurt", "Butter", "Cream"),
              ("Whole Milk", "Skim Milk", "Greek Yogurt", "Cheddar", "Mozzarella", "Brie",
               "Salted Butter", "Sour Cream", "Cottage Cheese", "Oat Milk"),
              ("1 gal", "1/2 gal", "32 oz", "16 oz", "8 oz", "500 g", "1 l")),
    "Bakery": (("Bread", "Pastry", "Cakes", "Tortillas"),
               ("Sourdough Loaf", "Whole Wheat Bread", "Bagels", "Croissants", "Muffins",
                "Flour Tortillas", "Brioche Buns", "Rye Bread", "Cinnamon Rolls"),
               ("6 ct", "12 ct", "20 oz", "24 oz", "400 g", "4 pk")),
    "Beverages": (("Soft Drinks", "Juice", "Water", "Coffee", "Tea"),
                  ("Sparkling Water", "Orange Juice", "Cola", "Cold Brew Coffee", "Green Tea",
                   "Lemonade", "Energy Drink", "Ground Coffee", "Coconut Water", "Iced Tea"),
                  ("12 fl oz", "2 l", "6 x 12 fl oz", "1 l", "52 fl oz", "12 oz", "20 ct")),
    "Snacks": (("Chips", "Cookies", "Candy", "Nuts", "Crackers"),
               ("Tortilla Chips", "Potato Chips", "Chocolate Chip Cookies", "Trail Mix",
                "Roasted Almonds", "Pretzels", "Gummy Bears", "Dark Chocolate Bar",
                "Cheese Crackers", "Popcorn"),
               ("1 oz", "5 oz", "8 oz", "10 oz", "150 g", "family size")),
    "Produce": (("Fruit", "Vegetables", "Herbs", "Salads"),
                ("Bananas", "Honeycrisp Apples", "Baby Spinach", "Avocados", "Blueberries",
                 "Roma Tomatoes", "Fresh Basil", "Spring Mix", "Sweet Potatoes", "Lemons"),
                ("1 lb", "2 lb", "5 oz", "each", "bunch", "3 ct", "pint")),
    "Frozen": (("Meals", "Ice Cream", "Vegetables", "Pizza"),
               ("Pepperoni Pizza", "Vanilla Ice Cream", "Frozen Peas", "Chicken Burrito",
                "Veggie Burgers", "Mango Chunks", "Fish Sticks", "Mac & Cheese"),
               ("1 pt", "1.5 qt", "12 oz", "16 oz", "4 ct", "28 oz")),
    "Pantry": (("Pasta", "Sauces", "Canned Goods", "Baking", "Cereal"),
               ("Spaghetti", "Marinara Sauce", "Black Beans", "All-Purpose Flour",
                "Granola", "Peanut Butter", "Chicken Broth", "Basmati Rice", "Olive Oil",
                "Maple Syrup"),
               ("16 oz", "24 oz", "15 oz", "5 lb", "12 oz", "32 oz", "500 ml", "1 kg")),
    "Household": (("Cleaning", "Paper Goods", "Laundry", "Kitchen"),
                  ("Paper Towels", "Dish Soap", "Laundry Detergent", "Trash Bags",
                   "All-Purpose Cleaner", "Sponges", "Aluminum Foil", "Toilet Paper"),
                  ("6 rolls", "12 rolls", "24 oz", "64 loads", "30 ct", "3 pk", "75 sq ft")),
    "Personal Care": (("Oral Care", "Hair Care", "Skin Care", "Bath"),
                      ("Toothpaste", "Shampoo", "Conditioner", "Body Wash", "Hand Soap",
                       "Moisturizing Lotion", "Deodorant", "Lip Balm", "Sunscreen SPF 50"),
                      ("4 oz", "12 fl oz", "3.4 oz", "2 pk", "8 oz", "250 ml")),
    "Meat & Seafood": (("Beef", "Poultry", "Pork", "Seafood"),
                       ("Ground Beef 85/15", "Chicken Breasts", "Bacon", "Atlantic Salmon",
                        "Pork Chops", "Shrimp", "Turkey Slices", "Ribeye Steak"),
                       ("1 lb", "2 lb", "12 oz", "8 oz", "per lb")),
}
CATEGORIES: Final = tuple(CATALOG)
BRANDS: Final = (
    "Oakridge Farms", "Blue Harbor", "Sunny Valley", "Northfield", "Green Meadow", "Golden Crest",
    "Riverbend", "Maple Lane", "Harvest Table", "Silver Spoon", "Pacific Coast", "Heritage Mill",
    "Little Acorn", "Bright Day", "Summit Peak", "Cedar Grove", "Morning Glory", "Stonewall",
    "Evergreen", "Prairie Gold", "Happy Belly", "Kind Earth", "Urban Pantry", "Wild Orchard",
)
ADJECTIVES: Final = ("", "", "", "Organic ", "Classic ", "Original ", "Low Fat ", "Extra ",
                     "Premium ", "Natural ", "Unsweetened ", "Family Pack ", "Gluten Free ")
TAX_CODES: Final = ("A_GEN_TAX", "A_FOOD_GEN", "A_FOOD_CNDY", "A_BEV_GEN", "A_HPC_GEN",
                    "A_GEN_NOTAX")
CENTS: Final = ("99", "99", "99", "49", "29", "79", "00", "19", "89", "59")
EAN_PREFIXES: Final = ("400", "401", "403", "406", "420", "500", "501", "540", "690", "693",
                       "760", "800", "841", "871", "300", "350", "560", "890")
UPC_SYSTEMS: Final = ("0", "0", "0", "1", "6", "7", "8")


def _scramble(serial: int, digits: int) -> str:
    """`serial` as `digits` digits that look random; a bijection below 10**digits (3**18 is
    coprime to 10), so distinct serials keep distinct codes."""
    return f"{(serial * 3**18 + 7_654_321) % 10**digits:0{digits}d}"


def _ean13(serial: int, rng: random.Random) -> tuple[str, str]:
    body = rng.choice(EAN_PREFIXES) + _scramble(serial, 9)
    return body + str(gs1_check_digit(body)), "EAN" if rng.random() < 0.85 else "GTIN"


def _upca(serial: int, rng: random.Random) -> tuple[str, str]:
    body = rng.choice(UPC_SYSTEMS) + _scramble(serial, 10)
    return body + str(gs1_check_digit(body)), "UPC"


def _gtin14(serial: int, rng: random.Random) -> tuple[str, str]:
    body = str(rng.randrange(1, 9)) + _scramble(serial, 12)
    return body + str(gs1_check_digit(body)), "GTIN"


def _ean8(serial: int, rng: random.Random) -> tuple[str, str]:
    if serial >= 10**7:  # EAN-8 has room for 10M serials only
        return _ean13(serial, rng)
    body = _scramble(serial, 7)
    return body + str(gs1_check_digit(body)), "EAN8"


def _barcode(serial: int, rng: random.Random, primary: bool) -> tuple[str, str]:
    r = rng.random()
    if r < 0.55:
        return _ean13(serial, rng)
    if r < 0.90:
        return _upca(serial, rng)
    if r < 0.95 or not primary:
        return _gtin14(serial, rng)
    return _ean8(serial, rng)


def _price(rng: random.Random) -> str:
    dollars = int(math.exp(rng.gauss(1.4, 0.9)))
    return f"{min(dollars, 999)}.{rng.choice(CENTS)}"


def _item(number: int, store: str, rng: random.Random) -> dict[str, Any]:
    category = rng.choice(CATEGORIES)
    subcategories, nouns, sizes = CATALOG[category]
    brand = rng.choice(BRANDS)
    code, code_type = _barcode(number * 3, rng, primary=True)
    item: dict[str, Any] = {
        "item_sku": f"SKU-{number:08d}",
        "store_id": store,
        "item_name": f"{brand} {rng.choice(ADJECTIVES)}{rng.choice(nouns)} {rng.choice(sizes)}",
        "external_product_id": code,
    }
    if rng.random() < 0.95:  # the rest leave the type to be inferred (a warning)
        item["external_product_id_type"] = code_type
    extra_count = rng.choices((0, 1, 2), weights=(70, 22, 8))[0]
    if extra_count:
        extras = []
        for k in range(1, extra_count + 1):
            extra, extra_type = _barcode(number * 3 + k, rng, primary=False)
            extras.append({"external_product_id": extra, "external_product_id_type": extra_type})
        item["additional_external_product_information"] = extras
    if rng.random() < 0.97:
        item["standard_price"] = _price(rng)
    item["brand_name"] = brand
    if rng.random() < 0.8:
        item["product_tax_code"] = rng.choice(TAX_CODES)
    item["product_category"] = category
    if rng.random() < 0.9:
        item["product_subcategory"] = rng.choice(subcategories)
    return item


def _make_faulty(item: dict[str, Any], rng: random.Random) -> None:
    kind = rng.choice(FAULT_KINDS)
    if kind == "check_digit":
        code = item["external_product_id"]
        wrong = (int(code[-1]) + rng.randrange(1, 10)) % 10
        item["external_product_id"] = code[:-1] + str(wrong)
    elif kind == "price":
        item["standard_price"] = rng.choice(BAD_PRICES)
    else:
        item["item_name"] = rng.choice(BLANK_NAMES)


def generate(n: int, seed: int, stores: Sequence[str], *, start: int = 0,
             fault_rate: float = FAULT_RATE) -> list[dict[str, Any]]:
    """`n` items numbered from `start`, spread over `stores`; about `fault_rate` of them faulty
    (a wrong check digit, an invalid price or a blank name: each one item-level error)."""
    if not stores:
        raise ValueError("at least one store is needed")
    rng = random.Random(seed)
    items = []
    for number in range(start, start + n):
        item = _item(number, stores[number % len(stores)], rng)
        if rng.random() < fault_rate:
            _make_faulty(item, rng)
        items.append(item)
    return items


def encode_body(items: Sequence[dict[str, Any]]) -> bytes:
    """The upload request body for `items`, compact JSON as the SDK sends it."""
    return msgspec.json.encode({"catalogItems": items})


def item_barcodes(item: dict[str, Any]) -> list[str]:
    """The item's primary barcode then its additional ones."""
    extras = item.get("additional_external_product_information") or ()
    return [item["external_product_id"], *(e["external_product_id"] for e in extras)]
