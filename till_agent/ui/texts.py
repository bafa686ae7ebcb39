"""The till screen's own words (labels, titles, key names) in Russian and English.

Cashier-facing errors come from `till_agent.messages` (TillError) and `till_agent.printer`
(PrinterError); this module holds only what the screens themselves say.
"""

from __future__ import annotations

from typing import Any

from till_agent.messages import Locale, money

UI: dict[str, dict[str, str]] = {
    # keys in the footer
    "k_qty": {"ru": "Кол-во", "en": "Qty"},
    "k_line_discount": {"ru": "Скидка стр.", "en": "Line disc."},
    "k_receipt_discount": {"ru": "Скидка чек", "en": "Receipt disc."},
    "k_void": {"ru": "Сторно", "en": "Void"},
    "k_park": {"ru": "Отложить", "en": "Park"},
    "k_resume": {"ru": "Отложенные", "en": "Parked"},
    "k_shift": {"ru": "Смена", "en": "Shift"},
    "k_return": {"ru": "Возврат", "en": "Return"},
    "k_pay": {"ru": "Оплата", "en": "Pay"},
    "k_reprint": {"ru": "Печать", "en": "Reprint"},
    "k_open_drawer": {"ru": "Открыть ящик", "en": "Open drawer"},
    "drawer_opened": {"ru": "Денежный ящик открыт", "en": "Cash drawer opened"},
    "k_logout": {"ru": "Выход", "en": "Log out"},
    "k_cancel": {"ru": "Отмена", "en": "Cancel"},
    "k_ok": {"ru": "Готово", "en": "OK"},
    "k_exact_cash": {"ru": "Без сдачи", "en": "Exact cash"},
    "k_card_rest": {"ru": "Остаток картой", "en": "Card: rest"},
    "k_return_all": {"ru": "Вернуть всё", "en": "Return all"},
    "k_refund": {"ru": "Оформить", "en": "Refund"},
    "k_close": {"ru": "Закрыть", "en": "Close"},
    # login
    "login_title": {"ru": "Вход кассира", "en": "Cashier login"},
    "pick_cashier": {"ru": "Выберите кассира", "en": "Choose the cashier"},
    "pin": {"ru": "PIN-код", "en": "PIN"},
    "login": {"ru": "Войти", "en": "Log in"},
    "no_cashiers": {
        "ru": "Нет кассиров: каталог ещё не получен с сервера",
        "en": "No cashiers yet: the catalog has not arrived from the hub",
    },
    "logged_out": {"ru": "Вы вышли", "en": "Logged out"},
    # selling
    "scan_placeholder": {
        "ru": "Сканируйте штрихкод или введите название товара",
        "en": "Scan a barcode or type a product name",
    },
    "col_no": {"ru": "№", "en": "#"},
    "col_name": {"ru": "Товар", "en": "Item"},
    "col_qty": {"ru": "Кол-во", "en": "Qty"},
    "col_price": {"ru": "Цена", "en": "Price"},
    "col_discount": {"ru": "Скидка", "en": "Discount"},
    "col_amount": {"ru": "Сумма", "en": "Amount"},
    "total": {"ru": "ИТОГО", "en": "TOTAL"},
    "receipt_discount_note": {"ru": "скидка на чек {amount}", "en": "receipt discount {amount}"},
    "kg": {"ru": "кг", "en": "kg"},
    "added": {"ru": "Добавлено: {name}", "en": "Added: {name}"},
    "voided": {"ru": "Сторно: {name}", "en": "Voided: {name}"},
    "weight_kg": {"ru": "Вес, кг", "en": "Weight, kg"},
    "quantity": {"ru": "Количество", "en": "Quantity"},
    "line_discount": {"ru": "Скидка на строку, руб.", "en": "Line discount"},
    "receipt_discount": {"ru": "Скидка на чек, руб.", "en": "Receipt discount"},
    "search_title": {"ru": "Найдено «{text}»: выберите товар", "en": "Found '{text}': pick one"},
    "nothing_found": {"ru": "Ничего не найдено: {text}", "en": "Nothing found: {text}"},
    "parked_title": {"ru": "Отложенные чеки", "en": "Parked sales"},
    "parked_row": {
        "ru": "№{id}  {at}  {lines} поз.  {total}",
        "en": "#{id}  {at}  {lines} lines  {total}",
    },
    "no_parked": {"ru": "Отложенных чеков нет", "en": "No parked sales"},
    "parked_done": {"ru": "Чек отложен (№{id})", "en": "Sale parked (#{id})"},
    "resumed": {"ru": "Отложенный чек №{id} открыт", "en": "Parked sale #{id} resumed"},
    "busy": {"ru": "Подождите: идёт печать…", "en": "Please wait: printing…"},
    "close_dialog_first": {
        "ru": "Сканирование не принято: сначала закройте окно",
        "en": "Scan ignored: close the dialog first",
    },
    "unexpected": {
        "ru": "Сбой программы ({detail}). Позовите администратора",
        "en": "Program error ({detail}). Call a manager",
    },
    # payment
    "pay_title": {"ru": "Оплата", "en": "Payment"},
    "to_pay": {"ru": "К оплате", "en": "To pay"},
    "cash_given": {"ru": "Наличные от покупателя", "en": "Cash tendered"},
    "card_amount": {"ru": "Картой (сумма с терминала)", "en": "By card (terminal amount)"},
    "approval": {"ru": "Код авторизации терминала", "en": "Terminal approval code"},
    "change_is": {"ru": "Сдача: {amount}", "en": "Change: {amount}"},
    "missing_is": {"ru": "Не хватает: {amount}", "en": "Still to pay: {amount}"},
    "pay_button": {"ru": "Оплатить", "en": "Pay"},
    "sale_done": {
        "ru": "Чек № {seq} оплачен. Сдача: {change}",
        "en": "Receipt {seq} paid. Change: {change}",
    },
    # printing
    "print_problem_title": {"ru": "Чек не напечатан", "en": "Not printed"},
    "print_problem_recorded": {
        "ru": "Продажа записана. Исправьте принтер и нажмите «Повторить печать»",
        "en": "The sale is recorded. Fix the printer, then press Reprint",
    },
    "reprint": {"ru": "Повторить печать", "en": "Reprint"},
    "later": {"ru": "Позже (F11)", "en": "Later (F11)"},
    "printed": {"ru": "Чек № {seq} напечатан", "en": "Receipt {seq} printed"},
    "unprinted_title": {
        "ru": "Ненапечатанные чеки: выберите, что напечатать",
        "en": "Receipts never printed: pick one to print",
    },
    "unprinted_row": {"ru": "Чек № {seq}  {at}  {total}", "en": "Receipt {seq}  {at}  {total}"},
    "nothing_to_reprint": {"ru": "Нет чека для печати", "en": "Nothing to reprint"},
    # shift
    "shift_title": {"ru": "Смена", "en": "Shift"},
    "open_shift": {"ru": "Открыть смену", "en": "Open the shift"},
    "cash_in": {"ru": "Внесение наличных", "en": "Cash in"},
    "cash_out": {"ru": "Изъятие наличных", "en": "Cash out"},
    "x_report": {"ru": "X-отчёт (без закрытия)", "en": "X report (no close)"},
    "close_shift": {"ru": "Закрыть смену (Z-отчёт)", "en": "Close the shift (Z report)"},
    "float": {"ru": "Размен на начало смены, руб.", "en": "Opening float"},
    "amount": {"ru": "Сумма, руб.", "en": "Amount"},
    "reason": {"ru": "Причина (необязательно)", "en": "Reason (optional)"},
    "counted": {"ru": "Наличные в ящике по пересчёту, руб.", "en": "Cash counted in the drawer"},
    "blind_hint": {
        "ru": "Пересчитайте наличные в ящике и введите сумму. "
        "Ожидаемая сумма будет в Z-отчёте после ввода",
        "en": "Count the cash in the drawer and enter it. "
        "The expected figure is shown in the Z report afterwards",
    },
    "shift_opened": {"ru": "Смена открыта", "en": "Shift opened"},
    "cash_moved": {"ru": "{what}: {amount}", "en": "{what}: {amount}"},
    "shift_closed": {"ru": "Смена закрыта", "en": "Shift closed"},
    "report_not_printed": {"ru": "Отчёт не напечатан: {detail}", "en": "Not printed: {detail}"},
    # returns
    "return_title": {"ru": "Возврат по чеку № {seq}", "en": "Return of receipt {seq}"},
    "receipt_prompt": {
        "ru": "Сканируйте QR-код чека или введите номер чека",
        "en": "Scan the receipt QR code or type the receipt number",
    },
    "receipt": {"ru": "Чек", "en": "Receipt"},
    "col_sold": {"ru": "Продано", "en": "Sold"},
    "col_left": {"ru": "Можно вернуть", "en": "Returnable"},
    "col_return": {"ru": "Возврат", "en": "Return"},
    "return_qty": {"ru": "Количество к возврату", "en": "Quantity to return"},
    "return_hint": {
        "ru": "Enter/F2 — количество по строке, F4 — вернуть всё",
        "en": "Enter/F2 sets the line's quantity, F4 returns everything",
    },
    "refund_done": {
        "ru": "Возврат оформлен (чек № {seq}): наличными выдать {cash}, на карту {card}",
        "en": "Refund done (receipt {seq}): pay out {cash} in cash, {card} to the card",
    },
    "refund_plan": {
        "ru": "К возврату {total}: наличными {cash}, на карту {card} (сумму на карту "
        "проведите на терминале)",
        "en": "To refund {total}: {cash} in cash, {card} to the card (refund the card part "
        "on the terminal)",
    },
    # status bar
    "sync_ok": {"ru": "Сервер: связь есть", "en": "Hub: connected"},
    "sync_offline": {"ru": "Сервер: нет связи", "en": "Hub: offline"},
    "sync_never": {"ru": "Сервер: ещё не было связи", "en": "Hub: never reached"},
    "sync_revoked": {"ru": "Сервер: касса отключена", "en": "Hub: till unpaired"},
    "queue": {"ru": "к отправке {n}", "en": "to send {n}"},
    "oldest": {"ru": "с {at}", "en": "since {at}"},
    "last_contact": {"ru": "связь {at}", "en": "last contact {at}"},
    "dead_letters": {"ru": "отклонено {n}", "en": "rejected {n}"},
    "unprinted_n": {"ru": "не напечатано {n}", "en": "unprinted {n}"},
    "printer_unknown": {"ru": "принтер: ?", "en": "printer: ?"},
    "shift_since": {"ru": "Смена с {at}", "en": "Shift since {at}"},
    "shift_none": {"ru": "Смена закрыта", "en": "No shift open"},
    "cashier": {"ru": "Кассир: {name}", "en": "Cashier: {name}"},
    "nobody": {"ru": "Кассир не вошёл", "en": "Nobody logged in"},
}

_MONEY_PARAMS = frozenset({"amount", "total", "change", "cash", "card"})


def t(key: str, locale: Locale, **params: Any) -> str:
    """A UI string in `locale`; integer amounts for money parameters are formatted."""
    entry = UI[key]
    template = entry.get(locale) or entry["en"]
    shown = {
        k: money(v, locale) if k in _MONEY_PARAMS and isinstance(v, int) else v
        for k, v in params.items()
    }
    return template.format(**shown) if shown else template


__all__ = ["UI", "t"]
