"""Every sentence a person reads, in one place for review.

Templates use str.format placeholders; fill them with handlers.text.fmt(), which escapes the
values (names and pledge text are user input). Markup is the small HTML subset <b>, <i>;
channels without formatting strip it. Formal register throughout: "đồng chí".
"""

# -- general ---------------------------------------------------------------------------------
EMPTY_MESSAGE = (
    "Tôi chỉ đọc được tin nhắn bằng chữ. Đồng chí gõ /trogiup để xem các việc có thể làm."
)
NOT_UNDERSTOOD = "Xin lỗi, tôi chưa hiểu ý đồng chí. Gõ /trogiup để xem các việc có thể làm."
UNKNOWN_COMMAND = "Không có lệnh này. Gõ /trogiup để xem các lệnh."
NOT_LINKED = (
    "Tài khoản này chưa được liên kết với danh sách đảng viên. "
    "Xin đồng chí gửi mã mời mà bí thư chi bộ đã gửi (ví dụ: K7M4Q2XP)."
)
TOO_LONG = (
    "Nội dung quá dài ({length} ký tự, tối đa {limit}). "
    "Xin đồng chí viết gọn lại; chưa có gì được lưu."
)
STALE_BUTTON = "Bước này đã qua."
STILL_IN_FLOW = "Đồng chí đang làm dở: <b>{title}</b>. Xin tiếp tục, hoặc gõ /huy để dừng."
CANCELLED = "Đã dừng. Những gì đang nhập dở chưa được lưu."
NOTHING_TO_CANCEL = "Không có việc gì đang làm dở."
UNSUPPORTED_CONTENT = (
    "Xin lỗi, tôi không đọc được nội dung tin nhắn này. "
    "Đồng chí vui lòng gõ bằng chữ, hoặc gõ /trogiup để xem các việc có thể làm."
)
ERROR = "Xin lỗi, đã có lỗi khi xử lý tin nhắn. Đồng chí vui lòng thử lại sau ít phút."
NOT_ALLOWED = "Đồng chí không có quyền thực hiện việc này."
NOT_ALLOWED_UNIT = (
    "Đồng chí không có quyền với «{unit}». Việc này chỉ làm được trong đơn vị đồng chí phụ trách."
)
NO_ADMIN_SCOPE = (
    "Việc này dành cho bí thư, phó bí thư và ban tuyên giáo cấp trên. Đồng chí chưa được giao "
    "quyền ở đơn vị nào; nếu cần, đề nghị cấp ủy giao quyền."
)

DOCUMENT_NOT_SENT = (
    "(Tệp «{name}» chỉ gửi được qua Telegram. Đồng chí liên kết Telegram bằng /lienket rồi "
    "làm lại, hoặc nhờ cán bộ quản trị xuất tệp trên máy chủ.)"
)

# -- roles (python -m bot role) --------------------------------------------------------------
ROLE_NAMES = {
    "admin": "quản trị (cả các đơn vị cấp dưới)",
    "secretary": "bí thư",
    "deputy": "phó bí thư",
    "observer": "theo dõi",
}
CLI_MEMBER_NOT_FOUND = (
    "Không tìm thấy đảng viên «{ref}». Ghi số thứ tự (#12), số điện thoại, "
    "hoặc «Đơn vị/…/Họ và tên»."
)
CLI_MEMBER_AMBIGUOUS = "«{ref}» trùng với {n} người; ghi rõ «Đơn vị/…/Họ và tên» hoặc số thứ tự:"
CLI_MEMBER_LINE = "  #{id} {name} — {unit}"
CLI_ROLE_GRANTED = "Đã giao quyền {role} tại {unit} cho {name}."
CLI_ROLE_HAD = "{name} đã có quyền {role} tại {unit}; không thay đổi."
CLI_ROLE_REVOKED = "Đã thu hồi quyền {role} tại {unit} của {name}."
CLI_ROLE_NOT_HELD = "{name} không có quyền {role} tại {unit}; không thay đổi."
CLI_ROLE_HEADER = ["Họ và tên", "Quyền", "Tại đơn vị"]
CLI_ROLE_NONE = "Chưa ai được giao quyền tại {unit}."
CLI_BAD_MONTH = "--month «{value}» phải là một tháng của năm {year}, dạng YYYY-MM."
CLI_OUT_NEEDED = "Định dạng {format} cần --out TỆP."
CLI_CANNOT_WRITE = "Không ghi được tệp {path}: {error}"
CLI_EXPORTED = "Đã ghi {path} ({n} đồng chí)."

# -- /baocao, /xuat: choosing the unit ---------------------------------------------------------
REPORT_PICK = "Đồng chí muốn xem báo cáo của đơn vị nào?"
BTN_REPORT_CHILD = "🔎 {name}"
BTN_REPORT_PREVIOUS = "◀ Tháng trước"
BTN_REPORT_XLSX = "📥 Tải bảng số liệu (XLSX)"
REPORT_FILE_SENT = "Bảng số liệu của {unit} (phụ lục số liệu, mở bằng Excel)."
EXPORT_PICK = "Đồng chí muốn xuất danh sách của đơn vị nào?"
EXPORT_OFFER = (
    "<b>Xuất bản đăng ký năm {year}</b> — {unit}\n"
    "• Bảng tính (XLSX): các bản đăng ký và kết quả tự đánh giá từng tháng.\n"
    "• Bản in (DOCX): mỗi đồng chí một bản đăng ký, có chỗ ký, để lưu hồ sơ."
)
BTN_EXPORT_XLSX = "📊 Bảng tính XLSX"
BTN_EXPORT_DOCX = "🖨 Bản in DOCX"
BTN_EXPORT_CHILD = "↳ {name}"
EXPORT_SENT = "Tệp của {unit}: {n} đồng chí."

# -- the yearly theme (/chuyende) -------------------------------------------------------------
THEME_ADMIN_ONLY = (
    "Công bố chuyên đề năm là việc của ban tuyên giáo cấp trên (quyền quản trị). "
    "Đồng chí chưa được giao quyền này."
)
THEME_ASK_UNIT = (
    "<b>Công bố chuyên đề năm</b>\nChuyên đề áp dụng cho đơn vị nào (và các đơn vị cấp dưới)?"
)
BTN_THEME_UNIT = "{name}"
THEME_ASK_YEAR = "Chuyên đề của năm nào?"
THEME_ASK_TITLE = "Đồng chí gõ tên chuyên đề năm {year} (đúng như văn bản của cấp ủy)."
THEME_ASK_SUMMARY = "Tóm tắt ngắn (3–5 nội dung cốt lõi), hoặc bấm «Bỏ qua»."
THEME_ASK_LINK = "Đường dẫn tới tài liệu, đề cương (bắt đầu bằng https://), hoặc bấm «Bỏ qua»."
THEME_ASK_DEADLINE = (
    "Hạn đăng ký bản cam kết năm {year} (ngày/tháng/năm, ví dụ 31/3/{year}), hoặc bấm «Bỏ qua». "
    "Trước hạn, những đồng chí chưa đăng ký sẽ được nhắc."
)
THEME_BAD_DEADLINE = "Ngày chưa đúng: cần dạng ngày/tháng/năm, ví dụ 31/3/2027, và chưa qua."
THEME_PREVIEW = "<b>Xem lại</b> — chuyên đề cho {unit}:"
BTN_THEME_SAVE = "✅ Công bố"
THEME_SAVED = (
    "Đã công bố chuyên đề năm {year} cho {unit}. Các đồng chí sẽ thấy chuyên đề khi đăng ký."
)
BTN_THEME_BROADCAST = "📣 Gửi chuyên đề tới toàn {unit}"
THEME_INTRO_PLAIN = "Chuyên đề năm {year}: {title}"
THEME_DEADLINE_LINE = "Hạn đăng ký bản cam kết: {date}."
THEME_HOW_TO_REGISTER = "Đồng chí đăng ký bản cam kết bằng lệnh /dangky."
PLEDGE_DEADLINE_REMINDER = (
    "⏰ Đồng chí chưa đăng ký bản cam kết năm {year}. Hạn đăng ký: <b>{date}</b>.\n"
    "Chuyên đề năm: <i>{title}</i>"
)

# -- broadcasts (/thongbao) --------------------------------------------------------------------
BROADCAST_ADMIN_ONLY = (
    "Gửi thông báo cho toàn đơn vị là việc của ban tuyên giáo cấp trên (quyền quản trị). "
    "Đồng chí chưa được giao quyền này."
)
BROADCAST_ASK_TEXT = (
    "<b>Soạn thông báo</b>\nĐồng chí gõ nội dung thông báo (tối đa {limit} ký tự). "
    "Không gửi văn bản mật qua đây; tài liệu nên gửi dạng đường dẫn."
)
BROADCAST_ASK_LINK = (
    "Kèm đường dẫn tài liệu (bắt đầu bằng https://)? Gõ đường dẫn, hoặc bấm «Không kèm»."
)
BTN_NO_LINK = "Không kèm"
BROADCAST_BAD_LINK = "Đường dẫn cần bắt đầu bằng https:// và không có dấu cách."
BROADCAST_ASK_UNIT = "Gửi cho đơn vị nào?"
BTN_BROADCAST_ALL = "Toàn {name}"
BTN_UNIT_CHILD = "↳ {name}"
CHOOSE_FROM_BUTTONS = "Đồng chí chọn một trong các nút bên dưới (hoặc gõ số thứ tự)."
BROADCAST_PREVIEW = "<b>Xem trước</b> — gửi tới {unit}: <b>{total}</b> đồng chí."
BROADCAST_PREVIEW_CHANNELS = "Nhận được qua: {channels}."
BROADCAST_PREVIEW_UNREACHABLE = "Chưa liên lạc được (chưa liên kết hoặc đã chặn): {n} đồng chí."
BROADCAST_PREVIEW_TEXT = "Nội dung các đồng chí sẽ nhận:"
BTN_BROADCAST_SEND = "📣 Gửi"
BTN_BROADCAST_EDIT = "✏️ Sửa nội dung"
BROADCAST_MESSAGE = "📣 <b>Thông báo</b>\n{text}"
BROADCAST_LINK = "Tài liệu: {link}"
BROADCAST_PROGRESS = (
    "📣 Đang gửi thông báo… Đã gửi {sent}/{total} · lỗi {failed} · "
    "không liên lạc được {unreachable}"
)
BROADCAST_DONE = (
    "📣 <b>Đã gửi xong thông báo.</b> Đã gửi {sent}/{total} · lỗi {failed} · "
    "không liên lạc được {unreachable}"
)
BROADCAST_UNKNOWN = (
    "Chưa rõ {n} tin (máy chủ dừng giữa chừng); các tin này không gửi lại để tránh trùng."
)
BTN_BROADCAST_RESEND = "🔁 Gửi lại {n} tin lỗi"
BROADCAST_RESENDING = "Đang gửi lại {n} tin lỗi; tin nhắn tiến độ ở trên sẽ cập nhật."
BROADCAST_NO_FAILED = "Không còn tin lỗi nào để gửi lại."
CLI_BROADCAST_TEXT = "--text không được để trống và tối đa {limit} ký tự."
CLI_BROADCAST_PREVIEW = (
    "Gửi tới {unit}: {total} đảng viên. Nhận được qua: {channels}. "
    "Chưa liên lạc được: {unreachable}."
)
CLI_BROADCAST_BAR = (
    "[{bar}] đã gửi {sent}/{total} · lỗi {failed} · không liên lạc được {unreachable}"
)
CLI_BROADCAST_QUEUED = (
    "Chưa thấy tin nào được gửi thêm: bot có đang chạy không (make run)? Các tin vẫn nằm trong "
    "hàng đợi và sẽ được gửi khi bot chạy; xem bằng «python -m bot outbox status»."
)

# -- joining ---------------------------------------------------------------------------------
WELCOME_UNLINKED = (
    "Chào đồng chí! Đây là trợ lý <b>Học tập và làm theo Bác</b> của chi bộ.\n\n"
    "Để bắt đầu, xin đồng chí gửi <b>mã mời</b> do bí thư chi bộ cung cấp "
    "(8 ký tự, ví dụ: K7M4Q2XP).\n"
    "Nếu chỉ có <b>mã chi bộ</b>, đồng chí gửi mã đó rồi nhập họ và tên để bí thư xác nhận."
)
NOT_A_CODE = (
    "Tài khoản này chưa được liên kết. Xin đồng chí gửi mã mời (8 ký tự, ví dụ: K7M4Q2XP). "
    "Chưa có mã thì xin liên hệ bí thư chi bộ."
)
CODE_UNKNOWN = "Mã <b>{code}</b> không đúng. Xin đồng chí kiểm tra lại từng ký tự."
CODE_EXPIRED = "Mã <b>{code}</b> đã hết hạn. Xin đồng chí liên hệ bí thư chi bộ để được cấp mã mới."
CODE_USED = (
    "Mã <b>{code}</b> đã được dùng. Nếu đó không phải đồng chí, "
    "xin báo ngay cho bí thư chi bộ để được cấp mã mới."
)
CODE_LOCKED = (
    "Đồng chí đã nhập sai mã nhiều lần. Để bảo đảm an toàn, việc nhập mã tạm khóa "
    "đến {until}. Xin thử lại sau, hoặc liên hệ bí thư chi bộ."
)
ALREADY_LINKED = "Tài khoản này đã liên kết với đồng chí <b>{name}</b>."
LINKED_GREETING = (
    "Chào đồng chí <b>{name}</b>, {unit}!\n"
    "Tài khoản đã được liên kết. Từ nay tôi sẽ giúp đồng chí đăng ký và theo dõi việc "
    "học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh."
)
JOIN_ASK_NAME = (
    "Mã chi bộ hợp lệ: <b>{unit}</b>.\n"
    "Xin đồng chí nhập <b>họ và tên đầy đủ</b> (có dấu) để bí thư chi bộ xác nhận."
)
JOIN_BAD_NAME = "Xin đồng chí nhập họ và tên đầy đủ, ví dụ: Nguyễn Văn An."
JOIN_SENT = (
    "Đã gửi yêu cầu tham gia <b>{unit}</b> với họ tên <b>{name}</b>. "
    "Khi bí thư chi bộ xác nhận, tôi sẽ báo đồng chí."
)
JOIN_SENT_NO_APPROVER = (
    "Đã ghi nhận yêu cầu tham gia <b>{unit}</b> với họ tên <b>{name}</b>. "
    "Bí thư chi bộ chưa dùng trợ lý này; yêu cầu sẽ được xem khi bí thư tham gia. "
    "Đồng chí cũng có thể xin bí thư mã mời cá nhân."
)
JOIN_PENDING = "Yêu cầu tham gia chi bộ của đồng chí đang chờ bí thư xác nhận."
JOIN_REQUEST_TO_SECRETARY = (
    "<b>Yêu cầu tham gia chi bộ</b>\n"
    "Họ và tên: <b>{name}</b>\nTên hiển thị: {display}\n{match}\n"
    "Đồng chí xác nhận người này là đảng viên của chi bộ?"
)
JOIN_MATCH_ROSTER = "Trùng tên với đảng viên trong danh sách: <b>{name}</b> ({position})."
JOIN_NO_MATCH = "<i>Không có tên này trong danh sách chi bộ; nếu chấp nhận sẽ thêm mới.</i>"
BTN_ACCEPT = "Chấp nhận"
BTN_REJECT = "Từ chối"
JOIN_APPROVED_TO_SECRETARY = "Đã chấp nhận đồng chí <b>{name}</b> vào danh sách chi bộ."
JOIN_REJECTED_TO_SECRETARY = "Đã từ chối yêu cầu của <b>{name}</b>."
JOIN_REJECTED = (
    "Bí thư chi bộ chưa xác nhận yêu cầu tham gia của đồng chí. "
    "Xin liên hệ trực tiếp bí thư chi bộ."
)
JOIN_ALREADY_DECIDED = "Yêu cầu này đã được xử lý trước đó."
JOIN_NAME_TAKEN = (
    "Đảng viên <b>{name}</b> trong danh sách đã liên kết với một tài khoản khác. "
    "Yêu cầu chưa được chấp nhận; xin kiểm tra lại."
)

# -- help ------------------------------------------------------------------------------------
HELP_HEADER = "Đồng chí <b>{name}</b> — {unit}.\nCác việc đồng chí có thể làm:"
HELP_MEMBER = (
    "/dangky — đăng ký (hoặc sửa) bản đăng ký học tập và làm theo Bác năm {year}\n"
    "/camket — xem bản đăng ký và trạng thái duyệt\n"
    "/tudanhgia — tự đánh giá việc thực hiện trước buổi sinh hoạt chi bộ\n"
    "/lich — buổi sinh hoạt chi bộ sắp tới\n"
    "/xinvang — xin vắng buổi sinh hoạt sắp tới (có lý do)\n"
    "/tongketnam — tổng kết năm: kết quả thực hiện và đoạn văn cho bản kiểm điểm\n"
    "/chibo — kế hoạch tập thể của chi bộ\n"
    "/lienket — dùng thêm Telegram hoặc Zalo (lấy mã liên kết)\n"
    "/kenh — chọn kênh nhận nhắc việc\n"
    "/huy — dừng việc đang làm dở\n"
    "/trogiup — xem hướng dẫn này"
)
HELP_SECRETARY = (
    "/chibo — tình hình chi bộ, duyệt bản đăng ký và yêu cầu tham gia\n"
    "/kehoach — kế hoạch tập thể của chi bộ: việc làm, chuẩn mực đạo đức\n"
    "/lichhop — đặt lịch sinh hoạt hằng tháng, dời hoặc hủy một buổi\n"
    "/xuat — xuất bản đăng ký, tự đánh giá (XLSX) hoặc bản in (DOCX)"
)
HELP_REPORTS = "/baocao — tỉ lệ đăng ký, tự đánh giá của đơn vị và các đơn vị cấp dưới"
HELP_ADMIN = "/chuyende — công bố chuyên đề năm\n/thongbao — gửi thông báo tới toàn đơn vị"
HELP_UNLINKED = WELCOME_UNLINKED
HELP_TYPING = (
    "<i>Có thể gõ lệnh không dấu, chữ hoa hay thường đều được. "
    "Khi có danh sách lựa chọn, đồng chí bấm nút hoặc gõ số thứ tự.</i>"
)
BTN_DANGKY = "Đăng ký / sửa bản đăng ký"
BTN_CAMKET = "Xem bản đăng ký"
BTN_TUDANHGIA = "Tự đánh giá tháng này"
BTN_CHIBO = "Tình hình chi bộ"

# -- pledge: the /dangky flow -----------------------------------------------------------------
FLOW_PLEDGE = "đăng ký học tập và làm theo Bác (/dangky)"
FLOW_RETURN = "nhận xét trả lại bản đăng ký"
FLOW_JOIN = "tham gia chi bộ"
STEP = "<b>Bước {n}/5 — {title}</b>\n"
THEME_INTRO = "Chuyên đề năm {year}: <b>{title}</b>"
TERM_THEME_INTRO = "Chuyên đề toàn khóa: <b>{title}</b>"
THEME_SUMMARY = "\n<i>{summary}</i>"
THEME_LINK = "\nTài liệu: {link}"
THEME_NONE = (
    "<i>Cấp ủy chưa công bố chuyên đề năm {year} cho chi bộ của đồng chí. "
    "Đồng chí vẫn có thể đăng ký; khi có chuyên đề có thể sửa lại.</i>"
)
STUDY_TITLE = "Nội dung học tập"
STUDY_ASK = (
    "Chọn nội dung đồng chí đăng ký học tập (chọn được nhiều mục, bấm lại để bỏ chọn), "
    "hoặc gõ nội dung khác. Xong thì bấm <b>Tiếp tục</b>."
)
STUDY_THEME_OPTION = "Chuyên đề năm {year}: {title}"
STUDY_TERM_OPTION = "Chuyên đề toàn khóa: {title}"
STUDY_STANDARD_OPTIONS = (
    "Chuyên đề toàn khóa về học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh",
    "Quy định 144-QĐ/TW về chuẩn mực đạo đức cách mạng của cán bộ, đảng viên",
    "Tác phẩm «Sửa đổi lối làm việc» của Chủ tịch Hồ Chí Minh",
    "Di chúc của Chủ tịch Hồ Chí Minh",
)
STUDY_CHOSEN = "Đã chọn:"
STUDY_NEED_ONE = "Xin chọn hoặc gõ ít nhất một nội dung học tập."
STUDY_TOO_MANY = "Đã đủ {n} nội dung học tập; bỏ bớt một mục trước khi thêm."
BTN_CONTINUE = "Tiếp tục ➡"
CHECKED = "✅ "

SHORTCOMINGS_TITLE = "Hạn chế cần khắc phục"
SHORTCOMINGS_ASK = (
    "Gõ <b>hạn chế {n}</b> mà đồng chí đăng ký khắc phục trong năm "
    "(mỗi tin nhắn một hạn chế, tối đa 3; nên dựa vào bản kiểm điểm năm trước).\n"
    "Ví dụ: <i>Còn ngại phát biểu ý kiến trong sinh hoạt chi bộ.</i>"
)
SHORTCOMINGS_SO_FAR = "Đã ghi:"
BTN_DONE = "Xong ✔"

ITEMS_TITLE = "Việc làm cụ thể"
ITEM_ASK_ACTION = "<b>Việc làm {n}</b> (tối đa 5): đồng chí sẽ làm gì?\nVí dụ: <i>{example}</i>"
ITEM_ASK_RESULT = (
    "Việc làm {n}: <i>{action}</i>\n"
    "Kết quả <b>đo được</b> là gì? (số lượng, tỉ lệ, số lần…)\n"
    "Ví dụ: <i>100% hồ sơ đúng hạn; 4 buổi mỗi tháng; 5 hộ tham gia.</i>"
)
ITEM_VAGUE = (
    "Nội dung này còn <b>chung chung</b>: {reason}\n"
    "Nên viết cụ thể để chi bộ dễ kiểm điểm, ví dụ với công việc của đồng chí:\n"
    "<i>{example}</i>\n"
    "Đồng chí muốn viết lại hay giữ nguyên?"
)
VAGUE_STOCK = "đây là câu khẩu hiệu («{phrase}»), chưa nói rõ sẽ làm việc gì."
VAGUE_NO_MEASURE = "chưa có số lượng, tần suất hay mức kết quả để đối chiếu."
BTN_REPHRASE = "Viết lại"
BTN_KEEP = "Giữ nguyên"
ITEM_ASK_DEADLINE = (
    "Việc làm {n}: thời hạn hoặc tần suất thực hiện?\n"
    "Bấm một lựa chọn, hoặc gõ tháng hay ngày (ví dụ: <i>tháng 6</i>, <i>30/9</i>, "
    "<i>30/9/{year}</i>)."
)
DEADLINE_BAD = (
    "Chưa hiểu thời hạn «{text}». Xin gõ như: tháng 6, quý 3, 30/9, 30/9/{year} hoặc hằng tháng."
)
DEADLINE_OTHER_YEAR = "Bản đăng ký này là của năm {year}; xin chọn thời hạn trong năm {year}."
DEADLINE_PAST = "Ngày {date} đã qua. Xin chọn một thời hạn trong năm {year}."
ITEM_SAVED = "Đã ghi việc làm {n}."
ITEM_MORE = "Đồng chí đã có {n} việc làm. Thêm việc làm khác?"
BTN_ADD_ITEM = "➕ Thêm việc làm"
BTN_ITEMS_DONE = "Xong, sang bước tiếp"
ITEMS_FULL = "Đã đủ 5 việc làm."

BREAKTHROUGH_TITLE = "Nội dung đột phá"
BREAKTHROUGH_ASK = (
    "Đồng chí chọn <b>một</b> việc làm làm <b>nội dung đột phá</b> của năm "
    "(việc tạo chuyển biến rõ nhất), hoặc bỏ qua."
)
BTN_NO_BREAKTHROUGH = "Không chọn"

REVIEW_TITLE = "Xem lại và gửi"
REVIEW_ASK = "Đồng chí kiểm tra lại. Nếu đúng, bấm <b>Gửi bản đăng ký</b> để bí thư chi bộ duyệt."
BTN_SUBMIT = "📨 Gửi bản đăng ký"
BTN_EDIT_STUDY = "Sửa nội dung học tập"
BTN_EDIT_SHORTCOMINGS = "Sửa hạn chế"
BTN_EDIT_ITEMS = "Sửa việc làm cụ thể"
BTN_CANCEL = "Hủy"
EDIT_ITEMS_ASK = "Chọn việc làm cần sửa, hoặc thêm việc làm mới."
EDIT_ITEM_LABEL = "Việc làm {n}: {action}"
EDIT_ITEM_ASK = "Việc làm {n}: <i>{action}</i>\nĐồng chí muốn làm gì với việc làm này?"
BTN_REWRITE = "Viết lại"
BTN_DELETE = "Xóa"
BTN_BACK = "⬅ Quay lại"
ITEM_DELETED = "Đã xóa việc làm {n}."
RESUME_EXISTING = (
    "Đồng chí đã có bản đăng ký năm {year} (phiên bản {version}, {status}). "
    "Các nội dung được giữ lại để đồng chí sửa; khi gửi sẽ thành phiên bản mới "
    "và cần bí thư duyệt lại."
)
RESUME_DRAFT = "Đồng chí đang đăng ký dở. Xin tiếp tục:"

SUBMITTED = (
    "Đã gửi bản đăng ký năm {year} (phiên bản {version}). Trạng thái: <b>chờ duyệt</b>.\n"
    "Khi bí thư chi bộ duyệt hoặc trả lại, tôi sẽ báo đồng chí. Xem lại bằng /camket."
)
SUBMITTED_NO_APPROVER = (
    "\n<i>Chi bộ chưa có bí thư hay phó bí thư dùng trợ lý này; bản đăng ký sẽ được "
    "xem khi các đồng chí ấy tham gia.</i>"
)

# -- pledge: rendering and status --------------------------------------------------------------
STATUS = {
    "submitted": "chờ duyệt",
    "approved": "đã duyệt",
    "returned": "trả lại",
    "superseded": "đã thay bằng phiên bản mới",
}
PLEDGE_HEADER = "<b>BẢN ĐĂNG KÝ HỌC TẬP VÀ LÀM THEO BÁC NĂM {year}</b>\n{name} — {unit}"
PLEDGE_VERSION = "Phiên bản {version} · <b>{status}</b>"
PLEDGE_STUDY = "<b>1. Nội dung học tập</b>"
PLEDGE_SHORTCOMINGS = "<b>2. Hạn chế cần khắc phục</b>"
PLEDGE_ITEMS = "<b>3. Việc làm cụ thể</b>"
PLEDGE_ITEM = "{n}. {action}\n   Kết quả: {result}\n   Thời hạn: {deadline}"
PLEDGE_ITEM_BREAKTHROUGH = " <b>(nội dung đột phá)</b>"
PLEDGE_COMMENT = "<b>Nhận xét của bí thư:</b> {comment}"
PLEDGE_IN_FORCE = (
    "<i>Phiên bản {version} (đã duyệt) vẫn có hiệu lực cho đến khi phiên bản mới được duyệt.</i>"
)
CAMKET_NONE = "Đồng chí chưa có bản đăng ký năm {year}. Gõ /dangky để đăng ký."
CAMKET_EDIT_HINT = "Gõ /dangky để sửa (sẽ tạo phiên bản mới, cần duyệt lại)."
CAMKET_RETURNED_HINT = "Bản đăng ký bị trả lại. Gõ /dangky để sửa và gửi lại."

# -- pledge: the secretary's side --------------------------------------------------------------
APPROVAL_REQUEST = "<b>Bản đăng ký chờ duyệt</b>\n\n{pledge}"
BTN_APPROVE = "✅ Duyệt"
BTN_RETURN = "↩ Trả lại"
APPROVED_TO_SECRETARY = "Đã duyệt bản đăng ký năm {year} của đồng chí <b>{name}</b>."
APPROVED_TO_MEMBER = (
    "Bản đăng ký năm {year} (phiên bản {version}) của đồng chí đã được "
    "đồng chí <b>{by}</b> <b>duyệt</b>. Chúc đồng chí thực hiện tốt!"
)
RETURN_ASK_COMMENT = (
    "Trả lại bản đăng ký của đồng chí <b>{name}</b>. "
    "Xin nhập <b>nhận xét</b> để đồng chí ấy biết cần sửa gì "
    "(ví dụ: <i>Việc làm 2 chưa có số lượng cụ thể</i>)."
)
RETURNED_TO_SECRETARY = "Đã trả lại bản đăng ký của đồng chí <b>{name}</b> kèm nhận xét."
RETURNED_TO_MEMBER = (
    "Bản đăng ký năm {year} (phiên bản {version}) của đồng chí được "
    "đồng chí <b>{by}</b> <b>trả lại</b> để sửa.\n"
    "Nhận xét: <i>{comment}</i>\n"
    "Gõ /dangky để sửa và gửi lại."
)
PLEDGE_ALREADY_DECIDED = "Bản đăng ký này đã được xử lý: <b>{status}</b>."
PLEDGE_NOT_FOUND = "Không tìm thấy bản đăng ký này."

# -- /chibo (the secretary's overview) ---------------------------------------------------------
CHIBO_HEADER = "<b>{unit}</b> — năm {year}"
CHIBO_COUNTS = (
    "Đảng viên: {total} (miễn sinh hoạt: {exempt})\n"
    "Đã liên kết tài khoản: {linked}/{total}\n"
    "Đã đăng ký: {registered}/{required} · đã duyệt: {approved} · chờ duyệt: {pending} · "
    "trả lại: {returned}"
)
CHIBO_PENDING = "\n<b>Chờ duyệt</b> (bấm để xem):"
CHIBO_JOINS = "\n<b>Yêu cầu tham gia</b>: {n}"
CHIBO_NOT_REGISTERED = "\n<b>Chưa đăng ký</b>: {names}"
CHIBO_NONE_PENDING = "\nKhông có bản đăng ký nào chờ duyệt."
BTN_VIEW_PLEDGE = "Xem: {name}"
BTN_VIEW_JOIN = "Yêu cầu: {name}"

# -- roster import (CLI) -----------------------------------------------------------------------
ROSTER_ERRORS = {
    "file_unreadable": "không đọc được tệp: {value}",
    "missing_column": "thiếu cột «{value}»",
    "empty_file": "tệp không có dòng dữ liệu nào",
    "required": "bắt buộc phải có",
    "too_long": "quá dài: «{value}»",
    "bad_role": "«{value}» không hợp lệ (bí thư | phó bí thư | chi ủy viên | đảng viên)",
    "bad_category": "«{value}» không hợp lệ (chính thức | dự bị)",
    "bad_exempt": "«{value}» không hợp lệ (có | không)",
    "bad_phone": "«{value}» không phải số điện thoại Việt Nam (10 số, bắt đầu bằng 0)",
    "bad_unit": "đường dẫn đơn vị «{value}» không hợp lệ (các cấp ngăn cách bằng /)",
    "duplicate_row": "trùng họ tên «{value}» trong cùng đơn vị",
    "closed_unit": "đơn vị «{value}» đã giải thể; không nhập đảng viên vào đơn vị đã đóng",
    "merged_unit": "đơn vị đã sáp nhập ({value}); ghi đơn vị mới vào cột này",
}
# Why a roster file could not be read (models.roster.FILE_REASONS has the same keys).
ROSTER_FILE_REASONS = {
    "not_found": "không có tệp này",
    "io_error": "lỗi đọc đĩa",
    "xls": "tệp .xls kiểu cũ; hãy lưu lại thành .xlsx trong Excel",
    "bad_xlsx": "tệp .xlsx bị hỏng hoặc không phải bảng tính",
    "not_utf8": "tệp .csv không phải UTF-8; trong Excel chọn «CSV UTF-8»",
    "bad_csv": "tệp .csv sai định dạng",
}
ROSTER_ERROR_LINE = "Dòng {row}, cột «{column}»: {message}"
ROSTER_FILE_ERROR = "Tệp: {message}"
ROSTER_REJECTED = "Không nhập gì: tệp có {n} lỗi. Sửa các lỗi trên rồi nhập lại."
ROSTER_DONE = (
    "Đã nhập xong: thêm {added}, cập nhật {updated}, giữ nguyên {unchanged} đảng viên; "
    "tạo {units} đơn vị mới."
)

# -- tree changes: python -m bot org rename | move | merge | close (models/orgtree.py) --------
TREE_BAD_NAME = (
    "Tên đơn vị «{name}» không hợp lệ: không để trống, không có dấu /, tối đa {limit} ký tự."
)
TREE_SAME_NAME = "Đơn vị đã mang tên «{name}»; không có gì thay đổi."
TREE_NAME_TAKEN = "Trong «{parent}» đã có đơn vị tên «{name}»{closed}; hãy chọn tên khác."
TREE_NAME_TAKEN_ROOT = "Cấp cao nhất đã có đơn vị tên «{name}»{closed}; hãy chọn tên khác."
TREE_NAME_TAKEN_CLOSED = " (đã đóng, vẫn giữ tên để tra cứu)"
TREE_UNIT_CLOSED = "«{unit}» đã đóng ngày {date}; không thay đổi được đơn vị đã đóng."
TREE_PARENT_CLOSED = "«{unit}» đã đóng ngày {date}; không chuyển đơn vị vào đơn vị đã đóng."
TREE_ALREADY_THERE = "«{unit}» đã trực thuộc «{parent}»; không có gì thay đổi."
TREE_ALREADY_ROOT = "«{unit}» đã ở cấp cao nhất; không có gì thay đổi."
TREE_INTO_ITSELF = (
    "Không chuyển «{unit}» vào chính nó hoặc vào đơn vị cấp dưới của nó («{parent}»)."
)
TREE_MERGE_ITSELF = "Không sáp nhập một đơn vị vào chính nó."
TREE_MERGE_DESCENDANT = "Không sáp nhập «{unit}» vào đơn vị cấp dưới của nó («{target}»)."
TREE_MERGE_TARGET_CLOSED = "«{target}» đã đóng ngày {date}; không sáp nhập vào đơn vị đã đóng."
TREE_MERGE_CHILD_CLASH = (
    "Chưa sáp nhập: «{target}» đã có đơn vị trùng tên với đơn vị trực thuộc của «{unit}»: "
    "{names}. Đổi tên một bên trước (org rename)."
)
TREE_CLOSE_BUSY = (
    "Chưa đóng «{unit}»: còn {members} đảng viên đang sinh hoạt và {units} đơn vị trực thuộc "
    "chưa đóng. Chuyển (org move) hoặc sáp nhập (org merge) trước; hoặc dùng --force để đóng "
    "cả nhánh, các đảng viên trong nhánh thôi sinh hoạt."
)
TREE_ALREADY_CLOSED = "«{unit}» đã đóng từ ngày {date}."
# Rows of a merged unit kept where they are because the surviving unit has its own.
TREE_KEPT_KINDS = {
    "unit_plans": "kế hoạch tập thể năm {key}",
    "themes": "chuyên đề năm {key}",
    "meeting_overrides": "lịch sinh hoạt đổi riêng kỳ {key}",
}
CLI_ORG_RENAMED = "Đã đổi tên «{old}» thành «{new}»."
CLI_ORG_MOVED = "Đã chuyển «{unit}» về trực thuộc «{parent}» (cả nhánh {n} đơn vị)."
CLI_ORG_MOVED_ROOT = "Đã chuyển «{unit}» lên cấp cao nhất (cả nhánh {n} đơn vị)."
CLI_ORG_MERGED = "Đã sáp nhập «{unit}» vào «{target}»; «{unit}» đã đóng."
CLI_ORG_MERGE_DRY_RUN = "Thử sáp nhập «{unit}» vào «{target}» (chưa thay đổi gì):"
CLI_ORG_MERGE_LINES = (
    "  Đảng viên chuyển sang: {members} (trong đó {inactive} đã thôi sinh hoạt)\n"
    "  Đơn vị trực thuộc chuyển theo: {units} (với {unit_members} đảng viên)\n"
    "  Bản đăng ký: {pledges}; bản tự đánh giá: {assessments} (theo đảng viên, giữ nguyên)\n"
    "  Vai trò: chuyển {roles}, bỏ {roles_dropped} trùng\n"
    "  Mã mời chưa dùng: {invites}; yêu cầu tham gia chờ duyệt: {requests}; "
    "mô hình, điển hình: {nominations}\n"
    "  Chuyển sang: {plans} kế hoạch tập thể, {themes} chuyên đề, "
    "{overrides} lịch đổi riêng, {periods} kỳ đã xem xét"
)
CLI_ORG_MERGE_RENAMED = "  Trùng họ tên, đổi thành: «{old}» → «{new}»"
CLI_ORG_MERGE_KEPT = "  Giữ của «{target}», không chuyển: {what}"
CLI_ORG_CLOSED = "Đã đóng «{unit}»."
CLI_ORG_CLOSED_FORCE = (
    "Đã đóng «{unit}» và {units} đơn vị trực thuộc; {members} đảng viên thôi sinh hoạt; "
    "hủy {invites} mã mời chưa dùng."
)

# -- examples of concrete items, by the member's kind of work (vagueness check) ---------------
ITEM_EXAMPLES = {
    "teacher": "Mỗi tháng phụ đạo miễn phí 4 buổi cho học sinh yếu lớp 3A; "
    "cuối năm không còn học sinh chưa hoàn thành môn Toán.",
    "officer": "Giải quyết 100% hồ sơ một cửa đúng hạn; trả lời phản ánh của người dân "
    "trong 2 ngày làm việc.",
    "retiree": "Vận động 5 hộ trong thôn phân loại rác tại nguồn; dự đủ 12 kỳ sinh hoạt chi bộ.",
    "farmer": "Chuyển 1 sào lúa sang trồng rau an toàn; hướng dẫn 3 hộ lân cận làm theo "
    "trước tháng 9.",
    "worker": "Đề xuất 2 sáng kiến cải tiến trong năm; không để xảy ra sự cố an toàn lao động.",
    "student": "Đọc 6 tác phẩm về Bác, mỗi quý viết 1 bài thu hoạch ngắn.",
    "security": "Mỗi tháng tuần tra 8 buổi cùng tổ an ninh; vận động 100% hộ ký cam kết "
    "không có tội phạm.",
    "general": "Mỗi tháng đọc 1 bài viết về Bác và kể lại tại sinh hoạt chi bộ; "
    "vận động 3 hộ tham gia phong trào của thôn.",
}

# -- deadlines ---------------------------------------------------------------------------------
DEADLINE_MONTHLY = "Hằng tháng"
DEADLINE_QUARTERLY = "Hằng quý"
DEADLINE_YEAR = "Trong năm (đến 31/12)"
DEADLINE_QUARTER = "Quý {roman}"
DEADLINE_MONTH = "Tháng {month}"
DEADLINE_DATE = "Trước ngày {date}"

# -- the command menu a platform shows next to the text box (name, description) ---------------
COMMAND_MENU = (
    ("start", "Bắt đầu / liên kết tài khoản bằng mã mời"),
    ("dangky", "Đăng ký hoặc sửa bản đăng ký học tập và làm theo Bác"),
    ("camket", "Xem bản đăng ký và trạng thái duyệt"),
    ("tudanhgia", "Tự đánh giá hằng tháng"),
    ("lich", "Buổi sinh hoạt chi bộ sắp tới"),
    ("xinvang", "Xin vắng buổi sinh hoạt sắp tới"),
    ("tongketnam", "Tổng kết năm, đoạn văn cho bản kiểm điểm"),
    ("lichhop", "Bí thư: đặt lịch sinh hoạt chi bộ"),
    ("chibo", "Kế hoạch tập thể; bí thư: tình hình chi bộ, duyệt"),
    ("kehoach", "Bí thư: kế hoạch tập thể của chi bộ"),
    ("baocao", "Báo cáo tỉ lệ đăng ký, tự đánh giá"),
    ("xuat", "Bí thư: xuất bản đăng ký (XLSX, DOCX)"),
    ("dienhinh", "Điển hình, mô hình: đề xuất, danh sách"),
    ("chuyende", "Cấp ủy: công bố chuyên đề năm"),
    ("thongbao", "Cấp ủy: gửi thông báo tới toàn đơn vị"),
    ("lienket", "Liên kết thêm Zalo hoặc Telegram"),
    ("kenh", "Chọn kênh nhận nhắc việc"),
    ("trogiup", "Hướng dẫn sử dụng"),
    ("huy", "Dừng việc đang làm dở"),
)

# -- the console chat (python -m bot chat) -------------------------------------------------------
CONSOLE_INTRO = (
    "Trò chuyện thử trên bàn phím với tư cách: {who}.\n"
    "Gõ như trên điện thoại; khi có lựa chọn, gõ số thứ tự. "
    "Gõ :doi <họ và tên> để đổi người, :thoat để thoát."
)
CONSOLE_NO_TOKEN = (
    "Chưa có TELEGRAM_BOT_TOKEN: chưa kết nối Telegram.\n"
    "Mở trò chuyện thử trên bàn phím với chi bộ mẫu ({unit})."
)
CONSOLE_UNKNOWN_MEMBER = "Không có đảng viên nào tên «{name}»."
CONSOLE_AMBIGUOUS = "Có nhiều người tên «{name}»; thêm --unit để chọn đơn vị."
CONSOLE_BYE = "Tạm biệt."
CONSOLE_TO_OTHER = "── tin gửi tới {who} ──"

# -- the command line ----------------------------------------------------------------------------
CLI_CONFIG_ERROR = "Lỗi cấu hình: {error}"
CLI_UNIT_NOT_FOUND = "Không có đơn vị «{path}». Kiểm tra lại đường dẫn (các cấp ngăn cách bằng /)."
CLI_FILE_NOT_FOUND = "Không có tệp {path}"
CLI_BAD_FORMAT = "Chỉ nhận tệp .xlsx hoặc .csv: {path}"
CLI_MIGRATED = "Cơ sở dữ liệu đã ở phiên bản mới nhất ({url})."
CLI_DB_ERROR = "Không kết nối được cơ sở dữ liệu: {error}"
CLI_THEME_SET = "Đã lưu chuyên đề năm {year} cho {unit}: {title}"
CLI_TERM_NEEDS_UNTIL = "Chuyên đề toàn khóa cần --until-year (năm cuối nhiệm kỳ)."
CLI_TERM_THEME_SET = "Đã lưu chuyên đề toàn khóa {year}–{until} cho {unit}: {title}"
CLI_THEME_UNDER_TERM = "Thuộc chuyên đề toàn khóa: {title}"
CLI_BAD_DATE = "Ngày không hợp lệ «{value}» (cần dạng YYYY-MM-DD)."
CLI_BAD_YEARS = "--until-year phải từ {year} trở đi."
CLI_BAD_DAYS = "--days phải là số ngày lớn hơn 0."
CLI_INVITE_UNIT = "{path}"
CLI_INVITE_JOIN_CODE = (
    "Mã chi bộ (người chưa có mã riêng dùng, bí thư xác nhận): {code} — hết hạn {expires}"
)
CLI_INVITE_HEADER = ("Họ và tên", "Mã mời", "Đường dẫn Telegram", "Hết hạn")
CLI_INVITE_LINKED = "đã liên kết"
CLI_INVITE_NO_USERNAME = (
    "(Chưa đặt [telegram] username trong config.toml nên chưa in được đường dẫn; "
    "đảng viên gửi mã cho bot là được.)"
)
CLI_INVITE_NONE = "Đơn vị này chưa có đảng viên nào; hãy nhập danh sách trước (org import)."
CLI_NO_TOKEN_REAL_DATA = (
    "Chưa có TELEGRAM_BOT_TOKEN nên bot chưa kết nối Telegram. Cơ sở dữ liệu đã có danh sách "
    'thật, nên không nạp chi bộ mẫu; để thử, dùng: python -m bot chat --member "Họ và tên".'
)
CLI_RUNNING = "lamtheo đang chạy trên Telegram (@{username}, chế độ {mode}). Nhấn Ctrl+C để dừng."

# -- the monthly cycle: /lich, /lichhop, /tudanhgia (handlers/monthly.py) ----------------------
FLOW_SCHEDULE = "đặt lịch sinh hoạt chi bộ (/lichhop)"
FLOW_ASSESS = "tự đánh giá hằng tháng (/tudanhgia)"
NO_SCHEDULE = (
    "Chi bộ chưa đặt lịch sinh hoạt định kỳ trên trợ lý này. "
    "Bí thư chi bộ đặt lịch bằng lệnh /lichhop."
)
NEXT_MEETING = (
    "<b>Sinh hoạt chi bộ tháng {month}</b>\n{when}{place}{moved}\n"
    "Tự đánh giá tháng {month}: <b>{status}</b>"
)
MEETING_WHEN = "{weekday}, ngày {date}, lúc {time}"
MEETING_PLACE = "\nĐịa điểm: {place}"
MEETING_MOVED = "\n<i>(Lịch đã được bí thư dời so với thường lệ.)</i>"
MEETING_RULE_IS = "Lịch thường lệ: {rule}."
NO_NEXT_MEETING = "Chưa có buổi sinh hoạt nào sắp tới (các tháng tới đã hủy)."
PERIOD_STATUS = {
    "submitted": "đã nộp",
    "late": "nộp muộn",
    "missing": "chưa nộp",
    "not_submitted": "không nộp",
    "excused": "vắng có lý do",
    "exempt": "miễn sinh hoạt",
}

SCHEDULE_NOT_SECRETARY = "Lệnh /lichhop dành cho bí thư, phó bí thư chi bộ."
SCHEDULE_MENU = "<b>Lịch sinh hoạt {unit}</b>\n{current}\nĐồng chí muốn làm gì?"
SCHEDULE_CURRENT_NONE = "Chưa đặt lịch thường lệ."
BTN_SET_RULE = "Đặt lịch hằng tháng"
BTN_MOVE = "Dời buổi họp tháng {month}"
BTN_CANCEL_MEETING = "Hủy buổi họp tháng {month}"
BTN_CLOSE = "Đóng"
SCHEDULE_ASK_RULE = (
    "Chi bộ sinh hoạt vào ngày nào hằng tháng? Gõ ví dụ: <i>ngày 3</i>, <i>mùng 10</i>, "
    "<i>thứ Hai tuần đầu</i>, <i>thứ Sáu cuối tháng</i>."
)
SCHEDULE_BAD_RULE = "Chưa hiểu «{text}». Xin gõ như: ngày 3, thứ Hai tuần đầu, thứ Sáu cuối tháng."
SCHEDULE_ASK_TIME = "Mấy giờ? Gõ ví dụ: <i>19:30</i>, <i>7h30</i>."
SCHEDULE_BAD_TIME = "Chưa hiểu giờ «{text}». Xin gõ như: 19:30 hoặc 7h30."
SCHEDULE_ASK_PLACE = "Địa điểm sinh hoạt? (ví dụ: Nhà văn hóa thôn) — hoặc bấm Bỏ qua."
BTN_SKIP = "Bỏ qua"
SCHEDULE_CONFIRM = "Lịch mới: <b>{rule}</b>.\nCác buổi sắp tới:\n{dates}\nLưu lịch này?"
BTN_SAVE = "Lưu"
SCHEDULE_SAVED = "Đã lưu lịch sinh hoạt: {rule}."
MOVE_ASK_DATE = (
    "Buổi họp tháng {month} (thường lệ {regular}) dời sang ngày nào? Gõ ví dụ: <i>{example}</i>."
)
MOVE_BAD_DATE = "Chưa hiểu ngày «{text}». Xin gõ ngày/tháng, ví dụ: {example}."
MOVE_PAST = "Ngày đó đã qua. Xin chọn một ngày sắp tới."
MOVE_ASK_TIME = "Mấy giờ? Gõ giờ mới, hoặc bấm giữ giờ cũ ({time})."
BTN_KEEP_TIME = "Giữ {time}"
MOVED = "Đã dời buổi họp tháng {month} sang {when}. Nhắc việc sẽ theo lịch mới."
CANCEL_CONFIRM = "Hủy buổi sinh hoạt tháng {month} ({when})? Sẽ không có nhắc việc cho tháng này."
BTN_CONFIRM_CANCEL = "Hủy buổi họp"
CANCELLED_MEETING = "Đã hủy buổi sinh hoạt tháng {month}."

ASSESS_NO_PLEDGE = (
    "Đồng chí chưa có bản đăng ký năm {year} đã được duyệt, nên chưa tự đánh giá được. "
    "Gõ /dangky để đăng ký (hoặc /camket để xem trạng thái)."
)
ASSESS_NOT_OPEN = "Tự đánh giá tháng {month} mở từ ngày {opens}. Buổi sinh hoạt: {when}."
ASSESS_CHOOSE_PERIOD = "Đồng chí còn các kỳ tự đánh giá sau. Chọn kỳ để làm:"
BTN_PERIOD = "Tháng {month}"
BTN_PERIOD_LATE = "Tháng {month} (nộp muộn)"
ASSESS_ALREADY = (
    "Đồng chí đã nộp tự đánh giá tháng {month}. Có thể sửa đến khi buổi sinh hoạt bắt đầu "
    "({when}). Đồng chí muốn sửa lại?"
)
BTN_EDIT_ASSESSMENT = "Sửa tự đánh giá"
ASSESS_HEADER = "<b>Tự đánh giá tháng {month}</b> — việc làm {n}/{total}\n"
ASSESS_ITEM = "<b>{action}</b>\nKết quả đăng ký: {result}\nThời hạn: {deadline}"
ASSESS_PREVIOUS = "\nTháng trước: <i>{status}</i>"
ASSESS_ASK_STATUS = "\n\nĐồng chí đã thực hiện việc này đến đâu?"
ASSESS_ASK_NOTE = (
    "Ghi chú thêm cho việc làm này (kết quả cụ thể, vướng mắc…)? Gõ ghi chú, hoặc bấm Bỏ qua."
)
ASSESS_ASK_DIFFICULTIES = (
    "<b>Khó khăn, đề xuất</b> (nếu có) để chi bộ xem xét? Gõ nội dung, hoặc bấm Không có."
)
BTN_NONE = "Không có"
ASSESS_SUMMARY = "<b>Tự đánh giá tháng {month}</b>\n{lines}\n{difficulties}\nGửi tự đánh giá này?"
ASSESS_SUMMARY_LINE = "{n}. {action}: <b>{status}</b>{note}"
ASSESS_DIFFICULTIES_LINE = "Khó khăn, đề xuất: {text}"
BTN_SEND = "📨 Gửi"
BTN_REDO = "Làm lại"
ASSESS_SENT = "Đã nhận tự đánh giá tháng {month}. Cảm ơn đồng chí!"
ASSESS_SENT_LATE = "Đã nhận tự đánh giá tháng {month} (nộp muộn). Cảm ơn đồng chí!"
ASSESS_CLOSED = (
    "Buổi sinh hoạt tháng {month} đã bắt đầu nên không sửa được nữa. "
    "Nếu cần, xin báo bí thư chi bộ."
)
# The self-assessment scale: key -> label (the keys are stored; the labels can be reworded).
ASSESS_SCALE = {
    "done": "Đã thực hiện",
    "doing": "Đang thực hiện",
    "not_yet": "Chưa thực hiện",
}
BTN_AS_BEFORE = "{status} (như tháng trước)"

# -- meeting schedule (handlers/schedule.py) ----
WEEKDAY_NAMES = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
WEEK_NAMES = ("tuần đầu tiên", "tuần thứ hai", "tuần thứ ba", "tuần thứ tư")  # nth 1..4
RULE_DAY = "ngày {day} hằng tháng"
RULE_NTH_WEEKDAY = "{weekday} {week} của tháng"
RULE_LAST_WEEKDAY = "{weekday} cuối tháng"
RULE_WITH_TIME = "{rule}, lúc {time}"
RULE_WITH_PLACE = "{rule}, tại {place}"

# -- reminders and the secretary's digest (handlers/reminders.py, handlers/digest.py) ----------
REMINDER_D3 = (
    "🔔 <b>Nhắc việc</b>: chi bộ sinh hoạt tháng {month} vào {when}.\n"
    "Đồng chí chưa gửi <b>tự đánh giá</b> tháng {month}. Bấm nút dưới để làm (khoảng 2 phút)."
)
REMINDER_D1 = (
    "🔔 <b>Nhắc lại</b>: ngày mai, {when}, chi bộ sinh hoạt tháng {month}.\n"
    "Đồng chí chưa gửi <b>tự đánh giá</b> tháng {month}."
)
REMINDER_DAYOF = "🔔 Hôm nay, {when}, chi bộ sinh hoạt tháng {month}{place}. Kính mời đồng chí dự."
REMINDER_DAYOF_MISSING = "\nĐồng chí chưa gửi tự đánh giá tháng {month}."
REMINDER_NO_PLEDGE = (
    "\n<i>Đồng chí chưa có bản đăng ký năm {year} được duyệt: gõ /dangky để đăng ký.</i>"
)
REMINDER_PLACE = " tại {place}"
BTN_ASSESS_NOW = "Tự đánh giá ngay"
NUDGE = (
    "🔔 Bí thư chi bộ nhắc: đồng chí chưa gửi <b>tự đánh giá</b> tháng {month} (sinh hoạt {when})."
)

DIGEST_HEADER = "<b>Tình hình trước sinh hoạt tháng {month}</b> — {unit}\n{when}"
DIGEST_SUBMITTED = "Đã nộp tự đánh giá: <b>{n}/{total}</b> ({percent})"
DIGEST_MISSING = "Chưa nộp ({n}): {names}"
DIGEST_EXCUSED = "Vắng có lý do: {names}"
DIGEST_STUCK = "<b>Chưa thực hiện 2 tháng liền:</b>"
DIGEST_STUCK_LINE = "• {name}: {action}"
DIGEST_UNREACHABLE = "Chưa liên lạc được qua trợ lý: {names}"
DIGEST_PENDING = "Bản đăng ký chờ duyệt: {n} (xem bằng /chibo)"
DIGEST_NONE = "không có"
DIGEST_CHART_TITLE = "Tự đánh giá tháng {month}"
BTN_NUDGE = "Nhắc những đồng chí chưa nộp"
BTN_DETAILS = "Xem chi tiết"
NUDGED = "Đã nhắc {n} đồng chí chưa nộp."
NUDGED_SKIPPED = " {n} đồng chí đã được nhắc hôm nay nên không nhắc thêm."
NUDGE_NOBODY = "Không còn đồng chí nào phải nhắc."
DETAILS_HEADER = "<b>Chi tiết tự đánh giá tháng {month}</b> — {unit}"
DETAILS_LINE = "{name}: <b>{status}</b>{items}"
DETAILS_MARK = {"done": "✅", "doing": "⏳", "not_yet": "❌"}

# -- the command line: reminders and outbox ----------------------------------------------------
CLI_PLANNED = "Đã lên lịch gửi {n} tin:"
CLI_PLANNED_LINE = "  {kind}: {n}"
CLI_NOTHING_PLANNED = "Không có tin nào mới cần lên lịch lúc {now}."
CLI_BAD_REMINDER = "Giờ nhắc không hợp lệ: {error}"
CLI_REMINDERS_SET = "Đã lưu giờ nhắc riêng cho {unit}."
CLI_REMINDERS_RESET = "Đơn vị này dùng lại giờ nhắc chung trong config.toml."
CLI_BAD_NOW = "--now phải là thời điểm ISO-8601, ví dụ 2026-12-01T08:00+07:00."

# -- outbox status (bot/outbox.py) ----
OUTBOX_STATUS_HEADER = "Tin nhắn gửi đi (hàng đợi outbox), theo trạng thái:"
OUTBOX_STATUS_NAMES = {
    "pending": "chờ gửi",
    "sending": "đang gửi",
    "sent": "đã gửi",
    "failed": "lỗi",
    "unreachable": "không liên lạc được",
    "not_reached": "kênh không gửi được",
    "unknown": "không rõ",
    "expired": "quá hạn, không gửi",
}
OUTBOX_STATUS_LINE = "  {status}  {count}"
OUTBOX_STATUS_KINDS = "  ({kinds})"
OUTBOX_STATUS_TOTAL_LABEL = "tổng cộng"
OUTBOX_STATUS_TOTAL = "  {label}  {count}"
OUTBOX_STATUS_UNKNOWN_NOTE = (
    "«Không rõ»: tiến trình gửi đã dừng giữa chừng nên không biết tin đã tới người nhận chưa; "
    "những tin này không được gửi lại."
)

# -- absences and the review after the meeting (handlers/review.py) --------------------------
FLOW_EXCUSE = "xin vắng sinh hoạt (/xinvang)"
FLOW_REVIEW = "xem xét sau sinh hoạt chi bộ"
EXCUSE_ASK = (
    "Xin vắng buổi sinh hoạt tháng {month} ({when}).\n"
    "Xin đồng chí cho biết <b>lý do</b> để bí thư chi bộ xem xét."
)
EXCUSE_SENT = "Đã gửi đơn xin vắng tháng {month}. Bí thư chi bộ sẽ trả lời đồng chí."
EXCUSE_ALREADY = "Đồng chí đã xin vắng tháng {month}: <b>{status}</b>."
EXCUSE_STATUS = {
    "requested": "đang chờ bí thư",
    "approved": "đã đồng ý",
    "rejected": "không đồng ý",
}
EXCUSE_TO_SECRETARY = (
    "<b>Xin vắng sinh hoạt tháng {month}</b>\nĐồng chí <b>{name}</b>\nLý do: {reason}"
)
BTN_AGREE = "Đồng ý"
BTN_DISAGREE = "Không đồng ý"
EXCUSE_APPROVED = (
    "Bí thư chi bộ đã đồng ý cho đồng chí vắng buổi sinh hoạt tháng {month}. "
    "Tháng này đồng chí không phải tự đánh giá."
)
EXCUSE_REJECTED = (
    "Bí thư chi bộ chưa đồng ý cho đồng chí vắng buổi sinh hoạt tháng {month}. "
    "Xin đồng chí sắp xếp tham dự, hoặc trao đổi trực tiếp với bí thư."
)
EXCUSE_DECIDED = "Đã ghi nhận: {name} — {status}."
EXCUSE_TOO_LATE = "Buổi sinh hoạt tháng {month} đã diễn ra."

REVIEW_PICK = (
    "<b>Sau sinh hoạt tháng {month}</b> — {unit}\n"
    "Chọn đồng chí để nhận xét, cho vắng có lý do, mở lại cho nộp muộn hoặc nhập tự đánh giá "
    "thay; cuối cùng bấm «{done}»."
)
BTN_REVIEW = "Xem xét sau sinh hoạt tháng {month}"
BTN_REVIEW_MEMBER = "{name} — {status}"
BTN_REVIEW_DONE = "Ghi nhận chi bộ đã xem xét tháng {month}"
REVIEW_MEMBER = "<b>{name}</b> — tháng {month}: <b>{status}</b>{comment}"
REVIEW_COMMENT_SHOWN = "\nNhận xét: <i>{comment}</i>"
BTN_COMMENT = "Nhận xét"
BTN_EXCUSE = "Vắng có lý do"
BTN_REOPEN = "Mở lại cho nộp muộn"
BTN_ON_BEHALF = "Nhập tự đánh giá thay"
REVIEW_ASK_COMMENT = (
    "Nhận xét của chi bộ về việc thực hiện của đồng chí <b>{name}</b> tháng {month}:"
)
REVIEW_COMMENT_TO_MEMBER = (
    "<b>Chi bộ đã xem xét việc thực hiện tháng {month}</b> của đồng chí.\n"
    "Nhận xét: <i>{comment}</i>"
)
REVIEW_SAVED = "Đã lưu."
REVIEW_REOPENED_TO_MEMBER = (
    "Bí thư chi bộ đã mở lại tự đánh giá tháng {month} để đồng chí nộp muộn. Gõ /tudanhgia."
)
REVIEW_ON_BEHALF_NO_PLEDGE = "Đồng chí {name} chưa có bản đăng ký năm {year} được duyệt."
REVIEW_RECORDED = "Đã ghi nhận: chi bộ đã xem xét việc thực hiện tháng {month}."
ON_BEHALF_NOTE = " (bí thư nhập thay)"

# -- several channels: /lienket, /kenh ---------------------------------------------------------
CHANNEL_NAMES = {
    "telegram": "Telegram",
    "zalo_bot": "Zalo",
    "zalo_oa": "Zalo (trang Official Account)",
    "console": "bàn phím (thử nghiệm)",
}
LINK_CODE = (
    "Mã liên kết của đồng chí: <b>{code}</b>\n"
    "Mở trợ lý trên kênh muốn dùng thêm (Telegram hoặc Zalo) và gửi mã này. "
    "Mã dùng một lần, hết hạn sau {minutes} phút.\n"
    "<i>Không đưa mã cho người khác: ai có mã sẽ nhận được tin nhắn của đồng chí.</i>"
)
LINKED_ANOTHER_CHANNEL = (
    "Đã liên kết {channel} với đồng chí <b>{name}</b>.\n"
    "Đồng chí dùng được trợ lý trên cả {channels}. Nhắc việc gửi qua {preferred}; "
    "đổi bằng lệnh /kenh."
)
LINKED_NOTICE_OTHER = (
    "Tài khoản {channel} vừa được liên kết với đồng chí <b>{name}</b>. "
    "Nếu không phải đồng chí làm việc này, xin báo ngay bí thư chi bộ."
)
CHANNELS_HEADER = "<b>Kênh nhận tin</b> của đồng chí:"
CHANNEL_LINE = "• {channel}{preferred}{state}"
CHANNEL_PREFERRED_MARK = " — <b>ưu tiên</b>"
CHANNEL_BLOCKED = " (không gửi được: tài khoản đã chặn hoặc bỏ quan tâm)"
CHANNEL_WINDOW_CLOSED = " (chỉ nhận được tin trong {days} ngày sau lần nhắn gần nhất)"
CHANNELS_PICK = (
    "Nhắc việc và thông báo gửi qua kênh ưu tiên; khi kênh đó không gửi được, gửi qua kênh còn lại."
)
CHANNELS_ONLY_ONE = "Đồng chí mới dùng một kênh. Muốn dùng thêm Telegram hoặc Zalo, gõ /lienket."
BTN_PREFER = "Ưu tiên {channel}"
CHANNEL_PREFERRED_SET = "Từ nay nhắc việc và thông báo gửi qua <b>{channel}</b> trước."
CHANNEL_NOT_LINKED = "Đồng chí chưa liên kết {channel}. Gõ /lienket để lấy mã liên kết."
CHANNEL_LAST_USED = "kênh đồng chí dùng gần nhất"

# -- plan limits (Zalo) ------------------------------------------------------------------------
USAGE_WARNING_MESSAGES = (
    "<b>Sắp hết hạn mức {channel}</b>: đã gửi {used}/{limit} tin trong tháng {month} "
    "({percent}%). Khi hết hạn mức, tin nhắn sẽ gửi qua kênh khác của từng đảng viên "
    "(nếu có); nên nâng gói hoặc nhắc đảng viên liên kết thêm Telegram (/lienket)."
)
USAGE_WARNING_USERS = (
    "<b>Sắp hết hạn mức {channel}</b>: đã có {used}/{limit} người dùng ({percent}%). "
    "Người dùng mới có thể không nhắn được cho trợ lý; nên nâng gói hoặc dùng Telegram."
)
USAGE_HEADER = "Hạn mức các kênh, tháng {month}:"
USAGE_MESSAGES_LINE = "  {channel}: {used}/{limit} tin ({percent}%)"
USAGE_USERS_LINE = "  {channel}: {used}/{limit} người dùng ({percent}%)"
USAGE_SENT_LINE = "  {channel}: đã gửi {used} tin"
USAGE_QUOTA_LINE = "  {channel}, hạn mức báo về: {quota}"

# -- reports (/baocao) -------------------------------------------------------------------------
# The chat message (handlers/report_view.py)
REPORT_HEADER = (
    "<b>Kết quả học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh</b>\n"
    "<b>{unit}</b> — năm {year}, số liệu tháng {month}"
)
REPORT_MEMBERS = "Đảng viên: {members}; miễn sinh hoạt: {exempt}; phải đăng ký: {required}"
REPORT_REGISTERED = "Đã đăng ký: {n}/{total} — {percent}"
REPORT_APPROVED = "Đã được bí thư duyệt: {n}/{total} — {percent}"
REPORT_ASSESSED = "Tự đánh giá tháng {month}: {n}/{total} — {percent}"
REPORT_ITEMS = "Việc làm: {done} đã thực hiện, {doing} đang thực hiện, {not_yet} chưa thực hiện"
REPORT_CELLS = "Chi bộ đã xem xét tại sinh hoạt tháng {month}: {n}/{total} — {percent}"
REPORT_MODELS = "Mô hình: {collective} tập thể, {individual} cá nhân; nhân rộng: {replicated}"
REPORT_EXEMPLARS = (
    "Điển hình: {collective} tập thể, {individual} cá nhân ({party} đảng viên, {masses} quần chúng)"
)
REPORT_CHILDREN = "<b>Các đơn vị trực thuộc</b> (tự đánh giá tháng {month}):"
REPORT_CHILD_LINE = (
    "• {name}: đăng ký {registered}/{required} ({registered_percent}), "
    "tự đánh giá {assessed}/{counted} ({assessed_percent})"
)
REPORT_OWN = "Trực tiếp tại {unit}"  # what the unit holds outside its children (a row, a line)
# The files (bot/report_files.py): the columns of the phụ lục số liệu, in this order
REPORT_COLUMNS = (
    "Đơn vị",
    "Tổng số đảng viên",
    "Miễn sinh hoạt",
    "Phải đăng ký",
    "Đã đăng ký",
    "Tỉ lệ đăng ký (%)",
    "Đã duyệt",
    "Tự đánh giá trong tháng",
    "Tỉ lệ tự đánh giá (%)",
    "Việc làm đã thực hiện",
    "Đang thực hiện",
    "Chưa thực hiện",
    "Chi bộ đã xem xét",
    "Tổng số chi bộ",
    "Tỉ lệ xem xét (%)",
    "Mô hình tập thể",
    "Mô hình cá nhân",
    "Mô hình nhân rộng",
    "Điển hình tập thể",
    "Điển hình cá nhân (đảng viên)",
    "Điển hình cá nhân (quần chúng)",
)
REPORT_TOTAL = "Tổng cộng: {unit}"
REPORT_FILE_TITLE = (
    "PHỤ LỤC SỐ LIỆU KẾT QUẢ HỌC TẬP VÀ LÀM THEO TƯ TƯỞNG, ĐẠO ĐỨC, PHONG CÁCH HỒ CHÍ MINH"
)
REPORT_FILE_SUBTITLE = "Đơn vị: {unit} — năm {year} — số liệu tháng {month}"
REPORT_FILE_NOTE = (
    "Ghi chú: tỉ lệ đăng ký tính trên số đảng viên phải đăng ký (trừ đảng viên miễn sinh hoạt); "
    "tỉ lệ tự đánh giá tính trên số đó, trừ đảng viên vắng có lý do trong tháng."
)
REPORT_SHEET = "Phụ lục số liệu"
REPORT_TREND_SHEET = "Theo tháng"
REPORT_TREND_COLUMNS = ("Tháng", "Đã tự đánh giá", "Phải tự đánh giá", "Tỉ lệ tự đánh giá (%)")
# The chart (documents/charts.py)
REPORT_CHART_TITLE = "{unit}, tháng {month}"
REPORT_CHART_REGISTERED = "Đăng ký (%)"
REPORT_CHART_ASSESSED = "Tự đánh giá trong tháng (%)"
REPORT_CHART_TREND = "Tỉ lệ tự đánh giá theo tháng (%)"
REPORT_CHART_UNIT_TEXT = "{name}: đăng ký {registered}, tự đánh giá {assessed}"
REPORT_CHART_TREND_TEXT = "Theo tháng: {months}"

# -- exports (/xuat) ---------------------------------------------------------------------------
EXPORT_FILENAME = "dang-ky-{year}-{unit}.{ext}"  # ASCII: the unit without diacritics
EXPORT_SHEET_PLEDGES = "Bản đăng ký"
EXPORT_SHEET_MONTH = "Tháng {month}-{year}"  # a sheet name: no "/"
EXPORT_PLEDGE_HEADERS = [
    "Đơn vị",
    "Họ và tên",
    "Chức vụ",
    "Trạng thái bản đăng ký",
    "Nội dung học tập",
    "Hạn chế cần khắc phục",
    "STT việc làm",
    "Việc làm cụ thể",
    "Kết quả/sản phẩm",
    "Thời hạn",
    "Đột phá",
]
EXPORT_MONTH_HEADERS = [
    "Đơn vị",
    "Họ và tên",
    "Tình trạng",
    "Ngày nộp",
    "Người nhập hộ",
    "STT việc làm",
    "Việc làm cụ thể",
    "Mức độ thực hiện",
    "Ghi chú",
    "Khó khăn, đề xuất",
    "Nhận xét của chi bộ",
]
EXPORT_NO_PLEDGE = "Chưa đăng ký"
EXPORT_PLEDGE_STATUS = "{status} (phiên bản {version})"
EXPORT_EXEMPT = "{status} · miễn sinh hoạt"
EXPORT_YES = "Có"
EXPORT_PARTY_ROLES = {
    "secretary": "Bí thư",
    "deputy": "Phó bí thư",
    "committee": "Chi ủy viên",
    "member": "Đảng viên",
}
EXPORT_CATEGORIES = {"official": "chính thức", "probationary": "dự bị"}
# The printable form (templates/pledge_form.docx): the header lines when a unit's name does not
# already start with its kind, the note under the title of a pledge not yet approved, and the
# dotted line of a blank form (a member without a pledge fills it in by hand).
EXPORT_PARENT_KIND = "Đảng bộ"
EXPORT_UNIT_KIND = "Chi bộ"
EXPORT_KIND_PREFIXES = ("chi bo", "dang bo", "dang uy", "to dang")  # folded
EXPORT_FORM_NOTE = "Phiên bản {version}, {status}"
EXPORT_BLANK_LINE = "…" * 30

# -- /kehoach and /chibo: the chi bộ collective plan ------------------------------------------
# The five chuẩn mực đạo đức cách mạng of Quy định 144-QĐ/TW (9/5/2024), a unit's default.
QD144_STANDARDS = (
    "Yêu nước, tôn trọng Nhân dân, tuyệt đối trung thành với Đảng, với Tổ quốc",
    "Bản lĩnh, đổi mới, sáng tạo, hội nhập",
    "Cần, kiệm, liêm, chính, chí công vô tư",
    "Đoàn kết, kỷ cương, tình thương, trách nhiệm",
    "Gương mẫu, khiêm tốn, tu dưỡng rèn luyện, học tập suốt đời",
)
PLAN_MANAGERS_ONLY = "Lệnh /kehoach dành cho bí thư, phó bí thư chi bộ (và cấp ủy cấp trên)."
PLAN_ASK_UNIT = "Kế hoạch tập thể của đơn vị nào?"
BTN_PLAN_UNIT = "{name}"
PLAN_HEADER = "<b>Kế hoạch học tập và làm theo Bác năm {year}</b>\n<b>{unit}</b>"
PLAN_DRAFT_NOTE = "<i>(bản nháp, chưa lưu)</i>"
PLAN_ITEMS = "\n<b>Việc làm của tập thể</b>"
PLAN_NO_ITEMS = "(chưa có việc làm nào)"
PLAN_ITEM = "{n}. {action}\n    Kết quả: {result} · Thời hạn: {deadline}"
PLAN_STANDARDS = "\n<b>Chuẩn mực đạo đức của chi bộ</b>"
PLAN_MODELS = "\n<b>Mô hình đăng ký</b>"
PLAN_MODELS_HINT = "\n<i>Đăng ký mô hình bằng lệnh /dienhinh.</i>"
PLAN_MENU_ASK = "\nĐồng chí muốn làm gì?"
BTN_PLAN_ADD = "➕ Thêm việc làm"
BTN_PLAN_REMOVE = "Xóa một việc làm"
BTN_PLAN_STANDARDS = "Sửa chuẩn mực đạo đức"
BTN_PLAN_SAVE = "✅ Lưu kế hoạch"
PLAN_ASK_ACTION = (
    "<b>Việc làm {n}</b> của tập thể: chi bộ sẽ làm gì?\n"
    "Ví dụ: <i>Mỗi quý tổ chức 1 buổi kể chuyện Bác Hồ trong sinh hoạt chi bộ</i>"
)
PLAN_ASK_RESULT = (
    "Việc làm {n}: <i>{action}</i>\n"
    "Kết quả <b>đo được</b> là gì? Ví dụ: <i>4 buổi trong năm; 100% đảng viên tham dự</i>"
)
PLAN_ITEM_VAGUE = "Lưu ý: nội dung này còn chung chung ({reason}). Có thể sửa lại sau."
PLAN_ASK_DEADLINE = (
    "Việc làm {n}: thời hạn hoặc tần suất?\n"
    "Bấm một lựa chọn, hoặc gõ tháng hay ngày (ví dụ: <i>tháng 6</i>, <i>30/9/{year}</i>)."
)
PLAN_ITEMS_FULL = "Kế hoạch đã có {n} việc làm (tối đa). Xóa bớt một việc làm để thêm việc khác."
PLAN_ASK_REMOVE = "Xóa việc làm nào?"
BTN_BACK_TO_PLAN = "Quay lại"
PLAN_ITEM_REMOVED = "Đã xóa việc làm: <i>{action}</i>"
PLAN_ASK_STANDARDS = (
    "Chuẩn mực đạo đức hiện nay:\n{standards}\n\n"
    "Gõ các chuẩn mực của chi bộ, <b>mỗi chuẩn mực một dòng</b> (tối đa {max} dòng, "
    "ngắn gọn, dễ nhớ, gắn với công việc của đơn vị), hoặc bấm một lựa chọn."
)
BTN_PLAN_QD144 = "Dùng 5 chuẩn mực của Quy định 144"
BTN_PLAN_KEEP = "Giữ nguyên"
PLAN_STANDARDS_TOO_MANY = "Tối đa {max} chuẩn mực; đồng chí đã gõ {n}. Xin gộp hoặc bớt."
PLAN_STANDARD_TOO_LONG = "Mỗi chuẩn mực tối đa {max} ký tự; dòng {n} dài {length} ký tự."
PLAN_SAVED = "Đã lưu kế hoạch tập thể năm {year} của <b>{unit}</b>. Đảng viên xem bằng /chibo."
PLAN_NONE = (
    "<b>{unit}</b> chưa có kế hoạch tập thể năm {year}. "
    "Bí thư chi bộ nhập kế hoạch bằng lệnh /kehoach."
)
PLAN_LINE = "Kế hoạch tập thể năm {year}: {items} việc làm, {standards} chuẩn mực đạo đức."
PLAN_LINE_NONE = "Chưa có kế hoạch tập thể năm {year}."
PLAN_LINE_HINT = " Xem, sửa: /kehoach"
PLAN_UPDATED = "Cập nhật {date}."
# -- /dienhinh (nominations) ----
# The list, the buttons under it, the "Đề xuất mới" flow (handlers/nominations.py) and
# python -m bot nomination add|list (bot/admin_cli.py).
HELP_NOMINATIONS = "/dienhinh — điển hình, mô hình đề xuất khen thưởng, nhân rộng"
NOMINATION_NO_RIGHT = (
    "Danh sách điển hình, mô hình dành cho bí thư, phó bí thư, người theo dõi và ban tuyên giáo "
    "cấp trên. Đồng chí chưa được giao quyền ở đơn vị nào; nếu cần, đề nghị cấp ủy giao quyền."
)
NOMINATION_MANAGE_ONLY = (
    "Đề xuất điển hình, mô hình là việc của bí thư, phó bí thư chi bộ (hoặc ban tuyên giáo cấp "
    "trên). Đồng chí chỉ được xem danh sách."
)
NOMINATION_LIST_HEADER = "<b>Điển hình, mô hình năm {year}</b>"
NOMINATION_LIST_EMPTY = (
    "Chưa có đề xuất nào năm {year}. Bí thư, phó bí thư bấm «Đề xuất mới» để đề xuất."
)
NOMINATION_LIST_UNIT = "\n<b>{unit}</b>"
NOMINATION_LINE = "• {kind}{who}: <b>{name}</b> — {summary}{mark}"
NOMINATION_WHO = " ({who})"
NOMINATION_PARTY = "đảng viên"
NOMINATION_MASSES = "quần chúng"
NOMINATION_REPLICATED_MARK = " ⭐ nhân rộng"
NOMINATION_MORE = "\n… và {n} đề xuất khác."
NOMINATION_MORE_HINT = (
    "Danh sách đầy đủ: nhờ cán bộ quản trị chạy trên máy chủ "
    '«python -m bot nomination list --unit "{path}" --year {year}».'
)
NOMINATION_KIND_NAMES = {
    ("dien_hinh", "ca_nhan"): "Điển hình cá nhân",
    ("dien_hinh", "tap_the"): "Điển hình tập thể",
    ("mo_hinh", "tap_the"): "Mô hình tập thể",
    ("mo_hinh", "ca_nhan"): "Mô hình cá nhân",
}
NOMINATION_KIND_BUTTONS = {
    "dp": "Điển hình cá nhân — đảng viên",
    "dq": "Điển hình cá nhân — quần chúng",
    "dt": "Điển hình tập thể",
    "mt": "Mô hình tập thể",
    "mc": "Mô hình cá nhân",
}
BTN_NOMINATION_NEW = "➕ Đề xuất mới"
BTN_NOMINATION_ANOTHER = "➕ Đề xuất thêm"
BTN_NOMINATION_LIST = "📋 Danh sách điển hình, mô hình"
BTN_NOMINATION_UNIT = "{name}"
BTN_NOMINATION_WITHDRAW = "↩ Rút: {name}"
BTN_NOMINATION_WITHDRAW_CONFIRM = "↩ Rút đề xuất này"
BTN_NOMINATION_KEEP = "Không rút"
BTN_NOMINATION_REPLICATE = "⭐ Nhân rộng: {name}"
BTN_NOMINATION_UNREPLICATE = "Bỏ nhân rộng: {name}"
BTN_NOMINATION_SAVE = "✅ Lưu"
NOMINATION_GONE = "Đề xuất này không còn nữa (đã được rút). Danh sách mới nhất: /dienhinh."
NOMINATION_WITHDRAW_ASK = (
    "Rút đề xuất «{name}» ({kind}) của {unit}? Đề xuất sẽ không còn trong danh sách và báo cáo."
)
NOMINATION_WITHDRAWN = "Đã rút đề xuất «{name}» của {unit}."
NOMINATION_REPLICATED = "Đã đánh dấu mô hình «{name}» ({unit}) là mô hình nhân rộng."
NOMINATION_UNREPLICATED = "Đã bỏ đánh dấu nhân rộng của mô hình «{name}» ({unit})."
NOMINATION_ALREADY_REPLICATED = "Mô hình «{name}» đã được đánh dấu nhân rộng; không thay đổi."
NOMINATION_NOT_REPLICATED = "Mô hình «{name}» hiện không được đánh dấu nhân rộng; không thay đổi."
NOMINATION_ASK_UNIT = "<b>Đề xuất điển hình, mô hình</b>\nĐề xuất của đơn vị nào?"
NOMINATION_ASK_KIND = "<b>Đề xuất điển hình, mô hình</b> — {unit}\nĐồng chí đề xuất loại nào?"
NOMINATION_ASK_NAME = {
    "dp": "Họ và tên đồng chí đảng viên được đề xuất (tối đa {limit} ký tự).",
    "dq": "Họ và tên người được đề xuất (quần chúng), có thể kèm nơi ở hoặc công việc.",
    "dt": "Tên tập thể được đề xuất, ví dụ: Chi hội Phụ nữ thôn 2.",
    "mt": "Tên mô hình và tập thể thực hiện, ví dụ: «Tuyến đường hoa tự quản» — Chi hội Phụ nữ.",
    "mc": "Tên mô hình và người thực hiện, ví dụ: «Vườn rau an toàn» — đồng chí Vũ Thị Mai.",
}
NOMINATION_ASK_DESCRIPTION = "Mô tả ngắn: thành tích, cách làm nổi bật (tối đa {limit} ký tự)."
NOMINATION_ASK_RESULT = (
    "Kết quả đạt được (có số liệu càng tốt, tối đa {limit} ký tự), hoặc bấm «Bỏ qua»."
)
NOMINATION_PREVIEW = "<b>Xem lại</b> — đề xuất của {unit}, năm {year}:"
NOMINATION_PREVIEW_KIND = "Loại: {kind}"
NOMINATION_PREVIEW_NAME = "Tên: <b>{name}</b>"
NOMINATION_PREVIEW_DESCRIPTION = "Mô tả: {description}"
NOMINATION_PREVIEW_RESULT = "Kết quả: {result}"
NOMINATION_ON_ROSTER = "<i>Đã đối chiếu với danh sách đảng viên.</i>"
NOMINATION_NOT_ON_ROSTER = (
    "<i>Không thấy đúng một đảng viên tên này trong danh sách; đề xuất vẫn lưu theo tên đã gõ.</i>"
)
NOMINATION_SAVED = (
    "Đã lưu đề xuất «{name}» ({kind}) của {unit}, năm {year}. Cấp ủy cấp trên thấy đề xuất "
    "này trong /dienhinh và trong báo cáo số liệu."
)
CLI_NOMINATION_ADDED = "Đã lưu đề xuất #{id} của {unit}, năm {year}: {kind} «{name}»{member}."
CLI_NOMINATION_LINKED = " (đảng viên #{id})"
CLI_NOMINATION_NO_NAME = "Cần --name (hoặc --member để lấy họ tên đảng viên)."
CLI_NOMINATION_NAME = "--name không được để trống và tối đa {limit} ký tự."
CLI_NOMINATION_TEXT = "{option} không được để trống và tối đa {limit} ký tự."
CLI_NOMINATION_BAD_YEAR = "--year «{value}» không hợp lệ (từ 2000 đến 2100)."
CLI_NOMINATION_PERSON_ONLY = "{option} chỉ dùng cho cá nhân (--subject ca_nhan)."
CLI_NOMINATION_MEMBER_MASSES = "--member là một đảng viên, không đi cùng --masses (quần chúng)."
CLI_NOMINATION_MEMBER_OUTSIDE = (
    "{name} không phải đảng viên (đang sinh hoạt) của {unit} hoặc đơn vị cấp dưới."
)
CLI_NOMINATION_HEADER = [
    "Số",
    "Đơn vị",
    "Loại",
    "Tên",
    "Đảng viên/quần chúng",
    "Mô tả",
    "Kết quả",
    "Nhân rộng",
    "Ngày đề xuất",
]
CLI_NOMINATION_YES = "Có"
CLI_NOMINATION_NONE = "{unit}: chưa có đề xuất điển hình, mô hình nào năm {year}."
CLI_NOMINATION_WRITTEN = "Đã ghi {path} ({n} đề xuất)."

# -- /tongketnam (year-end) ----
FLOW_YEAR_END = "tổng kết năm (/tongketnam)"
YEAR_END_BAD_YEAR = "Xin gõ năm bằng số, ví dụ: /tongketnam {year}."
YEAR_END_NO_PLEDGE = (
    "Đồng chí chưa có bản đăng ký học tập và làm theo Bác năm {year} nên chưa có gì để tổng kết. "
    "Gõ /dangky để đăng ký."
)
YEAR_END_NO_PLEDGE_YEAR = (
    "Đồng chí không có bản đăng ký năm {year} trên trợ lý này nên không có gì để tổng kết."
)
YEAR_END_OTHER_YEARS = "Các năm có bản đăng ký: {years}. Gõ ví dụ: /tongketnam {example}."
YEAR_END_HEADER = "<b>TỔNG KẾT NĂM {year}: HỌC TẬP VÀ LÀM THEO BÁC</b>\n{name} — {unit}"
YEAR_END_THEME = "Chuyên đề năm {year}: «{title}»"
YEAR_END_VERSION = "Bản đăng ký: phiên bản {version} · <b>{status}</b>"
YEAR_END_NOT_APPROVED = "<i>Chưa có phiên bản nào được duyệt: tổng kết theo phiên bản mới nhất.</i>"
YEAR_END_NEWER = (
    "<i>Phiên bản {version} ({status}) chưa có hiệu lực: tổng kết theo phiên bản {shown} "
    "đã duyệt.</i>"
)
YEAR_END_ITEMS = "<b>Việc làm cụ thể và mức độ thực hiện cuối cùng</b>"
YEAR_END_ITEM = (
    "{n}. {action}{breakthrough}\n   Kết quả đăng ký: {result}\n   Thời hạn: {deadline}\n"
    "   Mức độ cuối cùng: <b>{status}</b>{when} · {count}"
)
YEAR_END_ITEM_WHEN = " (tháng {month})"
YEAR_END_ITEM_NOTE = "\n   Ghi chú: {note}"
YEAR_END_NOT_ASSESSED = "chưa tự đánh giá"
YEAR_END_COUNT = "tự đánh giá {n}/{total} tháng"
YEAR_END_NO_PERIODS = "chưa có kỳ tự đánh giá nào"
YEAR_END_SHORTCOMINGS = "<b>Hạn chế đã đăng ký khắc phục</b>"
YEAR_END_NO_SHORTCOMINGS = "(không đăng ký)"
YEAR_END_PERIODS_NOTE = (
    "<i>Số tháng: các buổi sinh hoạt chi bộ đã diễn ra sau khi bản đăng ký được duyệt, "
    "không tính tháng hủy họp hoặc vắng có lý do.</i>"
)
YEAR_END_DRAFT_TITLE = "<b>Bản nháp đoạn «học tập và làm theo Bác» cho bản kiểm điểm năm {year}</b>"
YEAR_END_SAVED_TITLE = (
    "<b>Đoạn «học tập và làm theo Bác» cho bản kiểm điểm năm {year}</b> (đã lưu ngày {date})"
)
YEAR_END_REDRAFT_NOTE = (
    "<i>Đoạn đã lưu trước đây vẫn giữ nguyên cho đến khi đồng chí bấm «Giữ đoạn này».</i>"
)
YEAR_END_NO_GRADE = (
    "<i>Việc đánh giá, xếp loại chất lượng đảng viên là việc của chi bộ, cấp ủy theo "
    "Quy định 366-QĐ/TW; lamtheo không chấm điểm, không xếp loại.</i>"
)
YEAR_END_ASK_DRAFT = "Đồng chí giữ đoạn này, hay sửa lại theo ý mình?"
YEAR_END_ASK_SAVED = "Đồng chí muốn sửa đoạn này, hay tạo lại bản nháp theo số liệu mới nhất?"
YEAR_END_ASK_TEXT = (
    "Đồng chí gửi đoạn văn của mình trong một tin nhắn (tối đa {limit} ký tự). Có thể sao chép "
    "đoạn ở trên, sửa rồi gửi lại; đoạn gửi được lưu nguyên văn."
)
YEAR_END_SAVED = (
    "Đã lưu đoạn văn tổng kết năm {year}. Đồng chí sao chép đoạn dưới đây vào bản kiểm điểm; "
    "gõ /tongketnam {year} để xem hoặc sửa lại."
)
YEAR_END_CLOSED = "Đã đóng. Gõ /tongketnam để xem lại bất cứ lúc nào."
BTN_YEAR_END_KEEP = "Giữ đoạn này"
BTN_YEAR_END_EDIT = "Sửa đoạn văn"
BTN_YEAR_END_REDRAFT = "Tạo lại bản nháp"
# The draft paragraph (plain text, first person; the member may keep it or rewrite it).
YEAR_END_P_OPEN = (
    "Năm {year}, tôi đã đăng ký {n} việc làm cụ thể để học tập và làm theo tư tưởng, đạo đức, "
    "phong cách Hồ Chí Minh{theme}."
)
YEAR_END_P_THEME = ", gắn với chuyên đề năm {year} «{title}»"
YEAR_END_P_STUDY = "Về học tập, tôi đã đăng ký các nội dung: {items}."
YEAR_END_P_RESULTS = "Theo tự đánh giá hằng tháng (lần gần nhất: tháng {month}), tôi {groups}."
YEAR_END_P_RESULTS_NONE = "Trong năm, tôi chưa tự đánh giá hằng tháng các việc đã đăng ký: {items}."
YEAR_END_P_GROUP = "{label} {n} việc: {items}"
YEAR_END_P_SHORTCOMINGS = "Về hạn chế, tôi đã đăng ký khắc phục: {items}."
YEAR_END_P_NEXT_UNFINISHED = (
    "Năm tới, tôi tiếp tục thực hiện những việc chưa xong và đăng ký những việc làm cụ thể mới, "
    "gắn với nhiệm vụ được giao."
)
YEAR_END_P_NEXT_DONE = (
    "Năm tới, tôi tiếp tục duy trì những việc đã làm được và đăng ký những việc làm cụ thể mới, "
    "gắn với nhiệm vụ được giao."
)

# -- data care (python -m bot member, db backup) ----
# Stored in place of an erased member's name, and of their personal text found elsewhere.
FORGOTTEN_NAME = "Đảng viên đã xóa #{id}"
FORGOTTEN_TEXT = "[đã xóa]"
CLI_MEMBER_EXPORTED = (
    "Đã ghi toàn bộ dữ liệu về {name} (#{id}) vào {path}. Tệp chứa dữ liệu cá nhân: "
    "giữ kín, xóa khi không cần nữa."
)
CLI_FORGET_PREVIEW = (
    "Sẽ xóa vĩnh viễn dữ liệu cá nhân của {name} (#{id}, {unit}): họ tên, số điện thoại, "
    "chức vụ, {identities} tài khoản liên kết, nội dung {pledges} bản đăng ký và {assessments} "
    "bản tự đánh giá, tin nhắn. Trạng thái và số liệu báo cáo vẫn giữ."
)
CLI_FORGET_LEAVES = (
    "Đồng chí được ghi là đã thôi sinh hoạt (không còn tính vào số đảng viên của đơn vị); "
    "thêm --keep-active nếu vẫn phải tính."
)
CLI_FORGET_STAYS = (
    "Đồng chí vẫn được tính vào số đảng viên của đơn vị (--keep-active), dù không còn tên "
    "và không nhận được tin nhắn."
)
CLI_FORGET_ASK = "Gõ «xoa» để xác nhận (không hoàn tác được): "
CLI_FORGET_CANCELLED = "Không xóa gì. Thêm --yes để xóa mà không hỏi lại."
CLI_FORGOTTEN = (
    "Đã xóa dữ liệu cá nhân của đảng viên #{id} ({unit}), nay hiển thị là «{placeholder}»: "
    "{identities} tài khoản, {roles} quyền, {invites} mã mời, {conversations} cuộc trò chuyện; "
    "nội dung {pledges} bản đăng ký, {assessments} bản tự đánh giá, {deliveries} tin gửi đi, "
    "{inbox} tin nhận được; che tên ở {mentions} dòng khác."
)
CLI_FORGET_NOTHING = "Đảng viên #{id} đã được xóa dữ liệu trước đây; không còn gì để xóa."
CLI_FORGET_ROSTER_HINT = (
    "Nhớ bỏ đồng chí khỏi tệp danh sách đảng viên: nếu không, lần nhập sau sẽ thêm lại như "
    "một người mới."
)
CLI_BACKUP_DONE = (
    "Đã sao lưu {db} vào {path} ({size} KB). Tệp chứa dữ liệu cá nhân: cất giữ cẩn thận."
)
CLI_BACKUP_NO_DB = "Không có cơ sở dữ liệu {path}: chưa có gì để sao lưu."
CLI_BACKUP_FAILED = "Sao lưu không thành công: {error}"
CLI_RESTORE_NOT_EMPTY = (
    "Cơ sở dữ liệu {db} đang có dữ liệu ({members} đảng viên, {pledges} bản đăng ký). "
    "Khôi phục sẽ thay toàn bộ bằng bản sao lưu: dừng bot, rồi chạy lại với --yes nếu chắc chắn."
)
CLI_RESTORE_BAD_FILE = (
    "{path} không dùng được để khôi phục: {reason}. Cơ sở dữ liệu không thay đổi."
)
CLI_RESTORE_REASONS = {
    "unreadable": "không đọc được tệp",
    "not_sqlite": (
        "không phải bản sao lưu SQLite (bản sao lưu PostgreSQL chỉ khôi phục vào PostgreSQL)"
    ),
    "not_pg": "không phải bản sao lưu PostgreSQL dạng pg_dump -Fc",
    "corrupt": "tệp bị hỏng hoặc không đầy đủ",
    "not_lamtheo": "không phải cơ sở dữ liệu của lamtheo",
}
CLI_RESTORE_FAILED = "Khôi phục không thành công: {error}. Cơ sở dữ liệu không thay đổi."
CLI_RESTORED = (
    "Đã khôi phục {db} từ {path} và cập nhật cấu trúc: {members} đảng viên, {pledges} bản "
    "đăng ký, {assessments} bản tự đánh giá, {deliveries} tin gửi đi."
)
CLI_RESTORE_UPGRADE_FAILED = (
    "Đã khôi phục {db} từ {path}, nhưng cập nhật cấu trúc không thành công: {error}. "
    "Dữ liệu là của bản sao lưu, nhưng bot chưa chạy được cho tới khi cập nhật xong "
    "(python -m bot db upgrade)."
)
CLI_RESTORE_FORGET_HINT = (
    "Lưu ý: ai đã được xóa dữ liệu (python -m bot member forget) sau ngày sao lưu thì cần xóa lại."
)
CLI_PG_TOOL_MISSING = (
    "Không tìm thấy chương trình {name} của PostgreSQL: cài gói postgresql-client, cùng phiên "
    "bản với máy chủ hoặc mới hơn."
)

# -- flood throttling (bot/throttle.py) and the inbox in `outbox status` ---------------------
FLOOD_NOTICE = (
    "Đồng chí gửi tin nhanh quá nên tôi tạm bỏ qua các tin vừa rồi. "
    "Xin đồng chí đợi vài giây rồi gửi lại."
)
INBOX_STATUS_HEADER = "Tin nhắn đến (hàng đợi inbox), theo trạng thái:"
INBOX_STATUS_NAMES = {
    "pending": "chờ xử lý",
    "done": "đã xử lý",
    "failed": "lỗi khi xử lý",
    "throttled": "bỏ qua vì gửi quá nhanh",
}

# The command line when the database itself fails (models.db.fault): one line, no traceback.
CLI_DB_FAULTS = {
    "full": "Không ghi được vào cơ sở dữ liệu: ổ đĩa đầy. Lệnh chưa ghi gì; hãy giải phóng "
    "dung lượng rồi chạy lại.",
    "read_only": "Không ghi được vào cơ sở dữ liệu: cơ sở dữ liệu chỉ đọc. Lệnh chưa ghi gì; "
    "hãy kiểm tra quyền ghi (tệp, thư mục hoặc máy chủ PostgreSQL) rồi chạy lại.",
    "unavailable": "Không kết nối được cơ sở dữ liệu ({error}). Lệnh chưa ghi gì; hãy chạy lại "
    "khi cơ sở dữ liệu hoạt động.",
    "busy": "Cơ sở dữ liệu đang bận (bị khóa). Lệnh chưa ghi gì; hãy chạy lại sau ít phút.",
}

# "Đóng" in a menu: said, so a member who typed the choice's number is not left without an answer
ASSESS_LEFT_AS_SENT = "Đã đóng. Tự đánh giá tháng {month} giữ nguyên như đã gửi."
SCHEDULE_CLOSED = "Đã đóng. Gõ /lichhop để xem hoặc đổi lịch sinh hoạt bất cứ lúc nào."
REVIEW_CLOSED = "Đã đóng. Những gì đã ghi vẫn được giữ; mở lại từ /chibo."
